# fdstyle for OBS Studio, Windows: one command, safe to run again.
#
# OBS on Windows loads the Python set in Tools > Scripts > Python Settings, so the packages go into
# that Python.  This picks the newest Python that your OBS version can load (via the "py" launcher),
# installs torch (CUDA build when an NVIDIA GPU answers, CPU build otherwise), numpy,
# opencv-python-headless, openvino and tqdm, and prints exactly what to set in OBS.
#
#   powershell -ExecutionPolicy Bypass -File install\install.ps1 [-Python C:\Path\python.exe] [-Torch "torch==2.13.0"]
param(
    [string]$Python = "",
    [string]$Torch = $env:FDSTYLE_TORCH
)
$ErrorActionPreference = "Stop"
$Repo = Split-Path -Parent $PSScriptRoot

# Highest Python each OBS release can load.  OBS's installer records its version as DisplayVersion
# of its uninstall entry (its own "Software\OBS Studio" key holds the install folder, not a version).
function Get-ObsPythonVersion {
    $entry = Get-ItemProperty "HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\OBS Studio" -ErrorAction SilentlyContinue
    try { $version = [version](($entry.DisplayVersion -split "-")[0]) } catch { return "3.12" }  # unknown: assume current OBS
    if ($version -lt [version]"29.1") { return "3.10" }
    if ($version -lt [version]"30.1") { return "3.11" }
    return "3.12"
}

# True when an NVIDIA driver answers (then the CUDA build of torch is worth its size).
function Test-NvidiaGpu {
    if (-not (Get-Command nvidia-smi -ErrorAction SilentlyContinue)) { return $false }
    try { & nvidia-smi *> $null; return $LASTEXITCODE -eq 0 } catch { return $false }
}

if (-not $Python) {
    $wanted = Get-ObsPythonVersion
    try { $Python = (& py "-$wanted" -c "import sys; print(sys.executable)").Trim() }
    catch { throw "OBS needs 64-bit Python $wanted: install it from python.org (tick 'py launcher'), then run this again." }
}
$version = (& $Python -c "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')").Trim()
$prefix = (& $Python -c "import sys; print(sys.base_prefix)").Trim()

if ($Torch) {
    $torchArgs = @($Torch)
} elseif (Test-NvidiaGpu) {
    $torchArgs = @("torch", "--index-url", "https://download.pytorch.org/whl/cu124", "--extra-index-url", "https://pypi.org/simple")
} else {
    $torchArgs = @("torch")  # the default Windows wheels are CPU-only
}

& $Python -m pip install --disable-pip-version-check -q --upgrade @torchArgs
if ($LASTEXITCODE -ne 0) { throw "installing torch failed" }
& $Python -m pip install --disable-pip-version-check -q --upgrade numpy opencv-python-headless openvino tqdm
if ($LASTEXITCODE -ne 0) { throw "installing numpy/opencv/openvino failed" }
& $Python -c "import torch, numpy, cv2; print('installed: torch', torch.__version__, '| cuda', torch.cuda.is_available())"

Write-Host @"

In OBS: Tools > Scripts > Python Settings > Python Install Path:
  $prefix
This is Python $version. OBS loads at most Python 3.10 (OBS 28-29.0), 3.11 (OBS 29.1-30.0) or
3.12 (OBS 30.1 and later). Restart OBS after setting it.

Next steps in OBS Studio:
  1. Tools > Scripts > + > $Repo\obs_fdstyle.py
  2. In the script: pick your camera under "Camera source" and a style.
  3. In a scene: Sources > + > "fdstyle output" (hide the raw camera in that scene if you like).
  4. Controls > Start Virtual Camera, and choose "OBS Virtual Camera" in your call app.
"@
