#!/usr/bin/env bash
# fdstyle for OBS Studio, Linux and macOS: one command, safe to run again.
#
# Linux: OBS embeds the system libpython it was built with, so this makes a virtual environment of
#   that exact minor version where obs_fdstyle.py finds it by itself
#   (${XDG_DATA_HOME:-~/.local/share}/fdstyle/venv, or $FDSTYLE_VENV).
# macOS: OBS loads the Python set in Tools > Scripts > Python Settings; this installs into that
#   Python (pass --python /path/to/python3.X) and prints what to set there.
#
# Options:  --torch REQ     torch requirement to install (or env FDSTYLE_TORCH), e.g. torch==2.13.0
#           --python PATH   the Python to use (macOS: the one OBS is set to; Linux: overrides detection)
#           --venv DIR      where the Linux environment goes (or env FDSTYLE_VENV)
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TORCH_REQ="${FDSTYLE_TORCH:-}"
PYTHON=""
DEFAULT_VENV="${XDG_DATA_HOME:-$HOME/.local/share}/fdstyle/venv"
VENV="${FDSTYLE_VENV:-$DEFAULT_VENV}"
PACKAGES=(numpy opencv-python-headless openvino tqdm)  # openvino: the fast engine on CPUs and Intel GPUs

die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --torch) TORCH_REQ="${2:?--torch needs a requirement}"; shift 2 ;;
        --python) PYTHON="${2:?--python needs a path}"; shift 2 ;;
        --venv) VENV="${2:?--venv needs a folder}"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

# The torch build: an explicit requirement wins; else CUDA wheels where an NVIDIA GPU answers,
# the CPU-only index elsewhere on Linux (the default wheels pull GBs of CUDA libraries), and the
# default wheels on macOS (they include Apple's MPS backend).
torch_args() {
    if [ -n "$TORCH_REQ" ]; then
        echo "$TORCH_REQ"
    elif [ "$(uname)" = Darwin ]; then
        echo torch
    elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
        echo torch
    else
        echo "torch --index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple"
    fi
}

# "3.11" from the libpython that OBS's Python scripting module links against.
obs_python_version() {
    local module
    for module in /usr/lib/*/obs-scripting/_obspython.so /usr/lib/obs-scripting/_obspython.so \
        /usr/local/lib/obs-scripting/_obspython.so /usr/lib64/obs-scripting/_obspython.so \
        /app/lib/obs-scripting/_obspython.so; do
        [ -e "$module" ] || continue
        ldd "$module" 2>/dev/null | grep -o 'libpython3\.[0-9]*' | head -n1 | sed 's/libpython//' && return 0
    done
    return 1
}

install_packages() {
    local python="$1"
    # shellcheck disable=SC2046  # torch_args is a list of pip arguments
    "$python" -m pip install --disable-pip-version-check -q --upgrade $(torch_args)
    "$python" -m pip install --disable-pip-version-check -q --upgrade "${PACKAGES[@]}"
    "$python" -c "import torch, numpy, cv2, openvino; print('installed: torch', torch.__version__, '| numpy', numpy.__version__, '| openvino', openvino.__version__)"
}

next_steps() {
    cat <<EOF

Next steps in OBS Studio:
  1. Tools > Scripts > + > $REPO_DIR/obs_fdstyle.py
  2. In the script: pick your camera under "Camera source" and a style.
  3. In a scene: Sources > + > "fdstyle output" (hide the raw camera in that scene if you like).
  4. Controls > Start Virtual Camera, and choose "OBS Virtual Camera" in your call app.
EOF
}

linux() {
    local version="${PYTHON:+$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')}"
    if [ -z "$version" ]; then
        version="$(obs_python_version)" || die "OBS Studio with Python scripting not found; install OBS (e.g. apt install obs-studio) first"
    fi
    local python="${PYTHON:-$(command -v "python$version" || true)}"
    [ -n "$python" ] || die "OBS uses Python $version but python$version is not installed (e.g. apt install python$version python$version-venv)"
    # A venv whose creation failed half-way (no python3.X-venv: no pip in it) is made again, not "updated".
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import sys; assert sys.version.startswith('$version.')" 2>/dev/null \
        || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
        echo "Creating the environment for OBS's Python $version in $VENV"
        rm -rf "$VENV"
        mkdir -p "$(dirname "$VENV")"
        "$python" -m venv "$VENV" || die "could not create a venv (on Debian/Ubuntu: apt install python$version-venv)"
    else
        echo "Updating the environment in $VENV"
    fi
    install_packages "$VENV/bin/python"
    if [ "$VENV" = "$DEFAULT_VENV" ]; then
        echo "obs_fdstyle.py finds $VENV by itself (set FDSTYLE_VENV if you move it)."
    else
        echo "Start OBS with FDSTYLE_VENV=$VENV in its environment: obs_fdstyle.py looks in $DEFAULT_VENV otherwise."
    fi
    next_steps
}

macos() {
    [ -n "$PYTHON" ] || die "pass --python /path/to/python3.X: the Python that OBS will load (python.org installer, Homebrew, ...)"
    local version
    version="$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    install_packages "$PYTHON"
    local prefix
    prefix="$("$PYTHON" -c 'import sys; print(sys.base_prefix)')"
    cat <<EOF

In OBS: Tools > Scripts > Python Settings > Python Install Path:
  $prefix
This is Python $version. OBS loads at most Python 3.10 (OBS 28-29.0), 3.11 (OBS 29.1-30.0) or
3.12 (OBS 30.1 and later); use a matching Python if yours is newer. Restart OBS after setting it.
EOF
    next_steps
}

case "$(uname)" in
    Linux) linux ;;
    Darwin) macos ;;
    *) die "on Windows use install/install.ps1" ;;
esac
