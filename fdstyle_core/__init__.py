"""fdstyle's engine, free of OBS: frames in, flicker-free stylized frames out.

Where a frame goes: ``io`` reads it (a video, a camera, frames), ``engine.pipeline`` uploads it,
a stabilizer from ``stabilizers`` computes the mask and asks ``engine.painter`` to paint the
changed parts, and the result goes back out through ``io`` (or the OBS output source, via
``live.worker``).  The public names below load on first use, so importing this package (as the
OBS script does before torch is installed) costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "Pipeline": "fdstyle_core.engine.pipeline",
    "PipelineConfig": "fdstyle_core.engine.pipeline",
    "MaskParams": "fdstyle_core.stabilizers",
    "MODES": "fdstyle_core.stabilizers",
    "DEFAULT_MODE": "fdstyle_core.stabilizers",
    "stylize_video": "fdstyle_core.engine.pipeline",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'fdstyle_core' has no attribute '{name}'")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
