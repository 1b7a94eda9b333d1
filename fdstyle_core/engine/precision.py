"""Choosing the compute precision: a half precision is kept only where it paints what fp32 paints.

The check runs the network the way the default mode does, a full-frame pass that records the
instance-norm statistics and a region pass that reuses them, on a photo-like frame (smooth
gradients, edges and texture, not noise), and judges both the mean and the worst pixel.  Each
trial engine is built from the fp32 weights, so the weights that are kept are never rounded twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from fdstyle_core.engine.inference.base import InferenceEngine
from fdstyle_core.engine.painter import Painter

# Grey levels a half precision may differ from fp32: on average, and at the worst pixel.
MEAN_TOLERANCE = 1.5
MAX_TOLERANCE = 24.0
CHECK_SIDE = 256
CHECK_BOX = (64, 192, 48, 176)  # the region pass: y0, y1, x0, x1


def check_frame(device: torch.device, side: int = CHECK_SIDE) -> torch.Tensor:
    """A deterministic photo-like frame: a sky gradient, a lit disc, hard edges and fine texture."""
    ys, xs = torch.meshgrid(torch.linspace(0, 1, side), torch.linspace(0, 1, side), indexing="ij")
    disc = ((xs - 0.6) ** 2 + (ys - 0.45) ** 2 < 0.06).float()
    stripes = (torch.sin(xs * 60) * torch.sin(ys * 45) > 0.3).float() * (ys > 0.7).float()
    red = 200 - 120 * ys + 50 * disc
    green = 120 + 80 * xs * (1 - ys) + 90 * disc - 60 * stripes
    blue = 230 - 150 * ys - 100 * disc + 20 * stripes
    frame = torch.stack([red, green, blue]) + 8 * torch.sin(xs * 300 + ys * 170)
    return frame.clamp(0, 255)[None].to(device)


def painting_error(trial: InferenceEngine, reference: InferenceEngine) -> tuple[float, float]:
    """(mean, max) grey-level difference of ``trial`` from ``reference`` over a full and a region pass."""
    frame = check_frame(reference.device)
    y0, y1, x0, x1 = CHECK_BOX
    with torch.inference_mode():
        expected = Painter(reference, 0)(frame)
        painter = Painter(trial, 0)
        full = painter(frame.to(trial.device)).to(reference.device)
        region = painter.regions(frame.to(trial.device), [CHECK_BOX])[0].to(reference.device)
    errors = [(full - expected).abs(), (region - expected[:, :, y0:y1, x0:x1]).abs()]
    return max(e.mean().item() for e in errors), max(e.max().item() for e in errors)


def choose_precision(
    precision: str,
    candidates: Sequence[str],
    make: Callable[[str], InferenceEngine],
    reference: Callable[[], InferenceEngine],
) -> tuple[InferenceEngine, str]:
    """The engine ``make`` builds in the asked precision, or for ``auto`` in the first of ``candidates``
    that paints what ``reference()`` (fp32) paints, else in fp32; and why."""
    if precision != "auto":
        return make(precision), "as asked"
    failures = []
    for name in candidates:
        trial = make(name)
        mean, worst = painting_error(trial, reference())
        if mean <= MEAN_TOLERANCE and worst <= MAX_TOLERANCE:  # nan fails both
            return trial, f"auto: {name} within {mean:.2f} (max {worst:.1f}) grey levels of fp32"
        failures.append(f"{name} off by {mean:.2f} (max {worst:.1f})")
    return make("fp32"), "auto: fp32" + "".join(f", {failure}" for failure in failures)
