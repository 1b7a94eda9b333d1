"""The OBS script's settings: keys, types, defaults, and their conversion into a WorkerConfig.

The keys are an interface (saved scene collections, remote requests and the tests use them), so
they are spelled out once here.  Pure Python: no OBS needed to test it.
"""

from __future__ import annotations

from typing import Any, Mapping

from fdstyle_core.devices import DEVICE_CHOICES
from fdstyle_core.errors import FdstyleError
from fdstyle_core.pipeline import DEFAULT_MODE, PipelineConfig
from fdstyle_core.stabilizer import MaskParams
from fdstyle_core.styles import default_style
from fdstyle_core.worker import WorkerConfig

# The paper's five knobs; MaskParams' other fields keep their defaults here.
MASK_KEYS = ("threshold", "dilate_kernel", "dilate_iters", "erode_kernel", "erode_iters")
KEY_TYPES: dict[str, type] = {
    "camera_source": str,
    "enabled": bool,
    "style": str,
    "mode": str,
    **{key: int for key in MASK_KEYS},
    "processing_height": int,
    "device": str,
    "show_mask": bool,
}
MAX_THRESHOLD = 255
MAX_KERNEL = 31
MAX_ITERS = 20
MAX_PROCESSING_HEIGHT = 2160


def defaults() -> dict[str, Any]:
    """Defaults taken from the core engine, so the script and the CLI start out the same."""
    mask = MaskParams()
    style = default_style()
    return {
        "camera_source": "",
        "enabled": True,
        "style": style.name if style else "",
        "mode": DEFAULT_MODE,
        **{key: int(getattr(mask, key)) for key in MASK_KEYS},
        "processing_height": PipelineConfig.__dataclass_fields__["processing_height"].default,
        "device": DEVICE_CHOICES[0],
        "show_mask": False,
    }


def to_worker_config(values: Mapping[str, Any], max_fps: float) -> WorkerConfig:
    """Build the worker's settings; a readable :class:`FdstyleError` says what is wrong."""
    style = str(values["style"]).strip()
    if not style:
        raise FdstyleError("choose a style (a name from models/ or a .pth file)")
    device = str(values["device"])
    if device not in DEVICE_CHOICES:
        raise FdstyleError(f"unknown device '{device}' (choose from {', '.join(DEVICE_CHOICES)})")
    mask = MaskParams(**{key: int(values[key]) for key in MASK_KEYS})
    pipeline = PipelineConfig(
        style=style,
        mode=str(values["mode"]),
        mask=mask,
        device=device,
        processing_height=int(values["processing_height"]),
    )
    return WorkerConfig(pipeline, enabled=bool(values["enabled"]), show_mask=bool(values["show_mask"]), max_fps=max_fps)


def parse_changes(request: Mapping[str, Any]) -> dict[str, Any]:
    """Check a remote change request: known keys with values of the right type, nothing else."""
    unknown = sorted(set(request) - set(KEY_TYPES))
    if unknown:
        raise FdstyleError(f"unknown setting(s) {', '.join(unknown)} (known: {', '.join(KEY_TYPES)})")
    changes: dict[str, Any] = {}
    for key, value in request.items():
        wanted = KEY_TYPES[key]
        # JSON has no int/bool distinction problems except that bool is an int in Python.
        if wanted is int and (isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value)):
            raise FdstyleError(f"setting {key} must be a whole number, got {value!r}")
        if wanted is not int and not isinstance(value, wanted):
            raise FdstyleError(f"setting {key} must be a {wanted.__name__}, got {value!r}")
        changes[key] = wanted(value)
    return changes
