"""Choosing where the network runs, and in which precision."""

from __future__ import annotations

import torch

from fdstyle_core.errors import FdstyleError

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")
PRECISION_CHOICES = ("auto", "fp32", "fp16", "bf16")
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# Messages of errors that mean the device itself failed (not a bug in our code).
_DEVICE_FAILURE_WORDS = ("out of memory", "cuda", "cudnn", "cublas", "mps", "metal", "device-side", "illegal memory")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def available_devices() -> list[str]:
    devices = []
    if torch.cuda.is_available():
        devices.append("cuda")
    if _mps_available():
        devices.append("mps")
    return devices + ["cpu"]


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; a named device must exist."""
    name = name.strip().lower()
    if name == "auto":
        return torch.device(available_devices()[0])
    base = name.split(":")[0]
    if base not in DEVICE_CHOICES[1:]:
        raise FdstyleError(f"unknown device '{name}' (choose from {', '.join(DEVICE_CHOICES)})")
    if base != "cpu" and base not in available_devices():
        raise FdstyleError(f"device '{name}' is not available here (available: {', '.join(available_devices())})")
    return torch.device(name)


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work so that stage timings measure the stage, not the queue."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def precision_name(dtype: torch.dtype) -> str:
    return next(name for name, value in DTYPES.items() if value == dtype)


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, (torch.OutOfMemoryError, MemoryError)) or "out of memory" in str(exc).lower()


def is_device_failure(exc: BaseException, device: torch.device) -> bool:
    """Out of memory, a driver error or a lost GPU: worth leaving the GPU for the CPU.

    An operator the backend lacks (``NotImplementedError``, e.g. antialiased resizing on some MPS
    builds) is not: the caller works around that op.  Any other exception is a bug, reported as one.
    """
    if device.type == "cpu" or isinstance(exc, NotImplementedError):
        return False
    if is_out_of_memory(exc):
        return True
    accelerator_error = getattr(torch, "AcceleratorError", ())
    if accelerator_error and isinstance(exc, accelerator_error):
        return True
    return isinstance(exc, RuntimeError) and any(word in str(exc).lower() for word in _DEVICE_FAILURE_WORDS)
