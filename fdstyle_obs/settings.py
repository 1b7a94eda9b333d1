"""The OBS script's settings: keys, types, defaults, limits, and their conversion into a WorkerConfig.

The keys are an interface (saved scene collections, remote requests and the tests use them), so
they are spelled out once here.  Pure Python: no OBS needed to test it.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from fdstyle_core.engine.selection import DEVICE_CHOICES, ENGINE_CHOICES, device_class
from fdstyle_core.errors import FdstyleError
from fdstyle_core.engine.pipeline import AUTO_HEIGHT, AUTO_HEIGHT_RULE, FULL_SIZE, PipelineConfig
from fdstyle_core.stabilizers import DEFAULT_MODE
from fdstyle_core.stabilizers.base import MaskParams
from fdstyle_core.engine.styles import default_style
from fdstyle_core.live.worker import WorkerConfig

# Fields of MaskParams the script exposes, with the type OBS stores them as.  The paper's five
# knobs come first (threshold is whole grey levels in the UI); the rest tune the `reference` mode.
MASK_KEY_TYPES: dict[str, type] = {
    "threshold": int,
    "dilate_kernel": int,
    "dilate_iters": int,
    "erode_kernel": int,
    "erode_iters": int,
    "auto_threshold": bool,
    "feather": int,
    "refresh_fraction": float,
    "crossfade_frames": int,
    "skip_work": bool,
}
KEY_TYPES: dict[str, type] = {
    "camera_source": str,
    "enabled": bool,
    "style": str,
    "mode": str,
    **MASK_KEY_TYPES,
    "processing_height": int,
    "target_fps": int,
    "strength": int,
    "keep_colours": bool,
    "device": str,
    "engine": str,
    "threads": int,
    "show_mask": bool,
}
# (lowest, highest) of every numeric setting: the property widgets and remote requests use them.
LIMITS: dict[str, tuple[float, float]] = {
    "threshold": (0, 255),
    "dilate_kernel": (1, 31),
    "dilate_iters": (0, 20),
    "erode_kernel": (1, 31),
    "erode_iters": (0, 20),
    "feather": (0, 32),
    "refresh_fraction": (0.05, 1.0),
    "crossfade_frames": (0, 30),
    "processing_height": (AUTO_HEIGHT, 2160),
    "strength": (0, 100),
    "threads": (0, 256),
    "target_fps": (0, 120),
}
# The processing heights offered in the script's list (remote requests may set any within LIMITS).
# Live, the default is AUTO: a camera's full size is far too slow for a CPU.
PROCESSING_HEIGHTS: list[tuple[str, int]] = [
    (f"Automatic ({AUTO_HEIGHT_RULE})", AUTO_HEIGHT),
    ("Camera size", FULL_SIZE),
    *((f"{height} px", height) for height in (1080, 720, 540, 480, 360, 240, 180)),
]


def defaults() -> dict[str, Any]:
    """Defaults taken from the core engine, so the script and the CLI start out the same.

    Except the processing height: the CLI paints files at full size, live needs Automatic.  The
    style is the one this machine's default device starts with (a lite one on a CPU).
    """
    mask = MaskParams()
    style = default_style(device_class(DEVICE_CHOICES[0], ENGINE_CHOICES[0]))
    return {
        "camera_source": "",
        "enabled": True,
        "style": style.name if style else "",
        "mode": DEFAULT_MODE,
        **{key: kind(getattr(mask, key)) for key, kind in MASK_KEY_TYPES.items()},
        "processing_height": AUTO_HEIGHT,
        "target_fps": 0,
        "strength": round(PipelineConfig.strength * 100),
        "keep_colours": PipelineConfig.keep_colours,
        "device": DEVICE_CHOICES[0],
        "engine": ENGINE_CHOICES[0],
        "threads": 0,
        "show_mask": False,
    }


# Automatic height aims at OBS's frame rate, but never above this (a call shows at most 30 fps).
MAX_AUTO_FPS = 30.0


def leave_obs_a_core() -> int:
    """The network's CPU threads when the user leaves it to us: every core but one, which OBS
    needs to render, encode and send the Virtual Camera."""
    return max(1, (os.cpu_count() or 2) - 1)


def to_worker_config(values: Mapping[str, Any], max_fps: float) -> WorkerConfig:
    """Build the worker's settings; a readable :class:`FdstyleError` says what is wrong."""
    style = str(values["style"]).strip()
    if not style:
        raise FdstyleError("choose a style (a name from models/ or a .pth file)")
    device = str(values["device"])
    if device not in DEVICE_CHOICES:
        raise FdstyleError(f"unknown device '{device}' (choose from {', '.join(DEVICE_CHOICES)})")
    engine = str(values["engine"])
    if engine not in ENGINE_CHOICES:
        raise FdstyleError(f"unknown engine '{engine}' (choose from {', '.join(ENGINE_CHOICES)})")
    mask = MaskParams(**{key: kind(values[key]) for key, kind in MASK_KEY_TYPES.items()})
    pipeline = PipelineConfig(
        style=style,
        mode=str(values["mode"]),
        mask=mask,
        device=device,
        engine=engine,
        threads=int(values["threads"]) or leave_obs_a_core(),
        target_fps=int(values["target_fps"]) or min(max_fps, MAX_AUTO_FPS),
        processing_height=int(values["processing_height"]),
        strength=int(values["strength"]) / 100,
        keep_colours=bool(values["keep_colours"]),
    )
    return WorkerConfig(
        pipeline, enabled=bool(values["enabled"]), show_mask=bool(values["show_mask"]), max_fps=max_fps,
        source=str(values["camera_source"]),
    )


def _checked(key: str, value: Any) -> Any:
    """``value`` as ``key``'s type, or a readable error (bool is an int in Python, JSON has one number)."""
    wanted = KEY_TYPES[key]
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if wanted is int and not (is_number and value == int(value)):
        raise FdstyleError(f"setting {key} must be a whole number, got {value!r}")
    if wanted is float and not is_number:
        raise FdstyleError(f"setting {key} must be a number, got {value!r}")
    if wanted not in (int, float) and not isinstance(value, wanted):
        raise FdstyleError(f"setting {key} must be a {wanted.__name__}, got {value!r}")
    if key in LIMITS and not LIMITS[key][0] <= value <= LIMITS[key][1]:
        low, high = LIMITS[key]
        raise FdstyleError(f"setting {key} must be between {low} and {high}, got {value!r}")
    return wanted(value)


def parse_changes(request: Mapping[str, Any]) -> dict[str, Any]:
    """Check a remote change request: known keys with values of the right type and range, nothing else."""
    unknown = sorted(set(request) - set(KEY_TYPES))
    if unknown:
        raise FdstyleError(f"unknown setting(s) {', '.join(unknown)} (known: {', '.join(KEY_TYPES)})")
    return {key: _checked(key, value) for key, value in request.items()}
