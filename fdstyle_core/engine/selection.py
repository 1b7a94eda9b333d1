"""Which inference engine paints, on which device, in which precision — and the fallback.

``auto`` runs torch on CUDA and Apple MPS, OpenVINO on the CPU (and on an Intel GPU or NPU when
asked for), and torch on the CPU when OpenVINO is missing or fails: then the painting goes on
and :attr:`EngineChoice.notice` says why it is slower.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fdstyle_core.engine import devices
from fdstyle_core.engine.inference import openvino_engine
from fdstyle_core.engine.inference.base import InferenceEngine
from fdstyle_core.engine.inference.torch_engine import TorchEngine
from fdstyle_core.engine.network import StyleNet
from fdstyle_core.engine.auto_height import PassTimer
from fdstyle_core.engine.precision import CHECK_SIDE, MAX_TOLERANCE, MEAN_TOLERANCE, choose_precision, painting_error
from fdstyle_core.errors import FdstyleError

ENGINE_CHOICES = ("auto", "torch", "openvino")
OPENVINO_ONLY = ("intel-gpu", "npu")  # devices only OpenVINO reaches
DEVICE_CHOICES = devices.DEVICE_CHOICES + OPENVINO_ONLY
TORCH_GPU_CANDIDATES = ("fp16", "bf16")
# What "all cores" means to torch: its thread count before anything here changed it.
TORCH_DEFAULT_THREADS = torch.get_num_threads()


@dataclass(frozen=True)
class EngineChoice:
    engine: InferenceEngine
    reason: str  # why this precision
    notice: str = ""  # set when the engine asked for could not be used


def available_devices() -> list[str]:
    """Every device this machine can paint on, the fastest likely first."""
    extra = [name for name in openvino_engine.available_devices() if name in OPENVINO_ONLY]
    return devices.available_devices() + extra


def device_class(device: str, engine: str) -> str:
    """``gpu`` where the network will run on CUDA or Apple's MPS, which paint the full network live;
    otherwise ``cpu`` (Intel GPUs and NPUs through OpenVINO too: they are laptops' chips)."""
    device, engine = device.strip().lower(), engine.strip().lower()
    if engine == "openvino" or device in OPENVINO_ONLY:
        return "cpu"
    try:
        return "gpu" if devices.resolve_device(device).type in ("cuda", "mps") else "cpu"
    except FdstyleError:  # choosing the engine reports a bad device
        return "cpu"


def available_engines() -> list[str]:
    return ["torch", "openvino"] if openvino_engine.installed() else ["torch"]


def _openvino_cpu_auto(net: StyleNet, threads: int) -> tuple[InferenceEngine, str]:
    """fp32, or bf16 where the CPU has it in hardware, paints like fp32 and is measured faster
    (AMX makes it several times faster; AVX-512 BF16 alone can be slower on these small networks)."""
    fp32 = openvino_engine.OpenVINOEngine(net, "cpu", "fp32", threads)
    if not openvino_engine.native_bf16():
        return fp32, "auto: fp32 (no bf16 in this CPU)"
    bf16 = openvino_engine.OpenVINOEngine(net, "cpu", "bf16", threads)
    mean, worst = painting_error(bf16, TorchEngine(net, torch.device("cpu")))
    if not (mean <= MEAN_TOLERANCE and worst <= MAX_TOLERANCE):
        return fp32, f"auto: fp32 (bf16 off by {mean:.2f}, max {worst:.1f})"
    fp32_ms, bf16_ms = (PassTimer(engine, (CHECK_SIDE, CHECK_SIDE))(CHECK_SIDE) for engine in (fp32, bf16))
    if bf16_ms < fp32_ms:
        return bf16, f"auto: bf16 ({bf16_ms:.0f} ms vs fp32's {fp32_ms:.0f}, within {mean:.2f} grey levels)"
    return fp32, f"auto: fp32 ({fp32_ms:.0f} ms vs bf16's {bf16_ms:.0f})"


def _torch_choice(net: StyleNet, device: torch.device, precision: str, notice: str = "") -> EngineChoice:
    candidates = TORCH_GPU_CANDIDATES if device.type != "cpu" else ()
    engine, reason = choose_precision(
        precision, candidates, lambda name: TorchEngine(net, device, name), lambda: TorchEngine(net, device)
    )
    return EngineChoice(engine, reason, notice)


def host_threads(engine: InferenceEngine, threads: int) -> int:
    """Threads for torch's own work around the network (conversions, the stabilizer).

    One beside an engine with CPU threads of its own: after each operation torch's OpenMP threads
    keep spinning for a while, on the very cores the engine's threads need next.
    """
    if engine.own_cpu_threads:
        return 1
    return threads or TORCH_DEFAULT_THREADS


def choose_engine(net: StyleNet, device: str = "auto", engine: str = "auto", precision: str = "auto", threads: int = 0) -> EngineChoice:
    """Build the engine for these settings from ``net``'s fp32 weights (``net`` itself is untouched)."""
    device, engine = device.strip().lower(), engine.strip().lower()
    if engine not in ENGINE_CHOICES:
        raise FdstyleError(f"unknown engine '{engine}' (choose from {', '.join(ENGINE_CHOICES)})")
    if device in OPENVINO_ONLY:
        if engine == "torch":
            raise FdstyleError(f"device '{device}' needs the openvino engine")
        if device not in openvino_engine.available_devices():
            raise FdstyleError(f"device '{device}' is not available here (available: {', '.join(available_devices())})")
    else:
        torch_device = devices.resolve_device(device)
        if torch_device.type != "cpu":
            if engine == "openvino":
                raise FdstyleError(f"the openvino engine runs on {', '.join(openvino_engine.DEVICES)}, not {device}")
            return _torch_choice(net, torch_device, precision)
        if engine == "torch":
            return _torch_choice(net, torch_device, precision)
        device = "cpu"
    try:
        if device == "cpu" and precision == "auto":
            chosen, reason = _openvino_cpu_auto(net, threads)
        else:
            chosen, reason = choose_precision(
                precision,
                ("fp16",),  # integrated GPUs and NPUs are built for it
                lambda name: openvino_engine.OpenVINOEngine(net, device, name, threads),
                lambda: TorchEngine(net, torch.device("cpu")),
            )
        # Both graphs compile and run here, so a broken plugin or driver falls back now, not at the first frame.
        mean, worst = painting_error(chosen, TorchEngine(net, torch.device("cpu")))
        if not (mean <= MEAN_TOLERANCE and worst <= MAX_TOLERANCE):
            raise FdstyleError(f"it paints {mean:.2f} grey levels (max {worst:.1f}) away from torch")
        chosen.discard(CHECK_SIDE, CHECK_SIDE)  # a size only checked and timed, not painted
        return EngineChoice(chosen, reason)
    except Exception as exc:  # noqa: BLE001 - a missing or failing OpenVINO must not stop the painting
        if device != "cpu" and engine == "openvino":
            raise FdstyleError(f"OpenVINO could not run on {device}: {type(exc).__name__}: {exc}") from exc
        notice = f"OpenVINO unavailable ({type(exc).__name__}: {str(exc)[:160]}); painting with torch on the CPU"
        return _torch_choice(net, torch.device("cpu"), precision, notice)
