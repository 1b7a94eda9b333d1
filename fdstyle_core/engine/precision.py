"""Choosing the compute precision: a half precision is kept only where it paints what fp32 paints.

The check runs the network the way the default mode does, a full-frame pass that records the
instance-norm statistics and a region pass that reuses them, on a photo-like frame (smooth
gradients, edges and texture, not noise), and judges both the mean and the worst pixel.  It works
on a copy, so the weights that are kept are never rounded.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from fdstyle_core.engine.devices import DTYPES, precision_name
from fdstyle_core.engine.network import TransformerNet
from fdstyle_core.engine.painter import Painter

# Grey levels a half precision may differ from fp32: on average, and at the worst pixel.
MEAN_TOLERANCE = 1.5
MAX_TOLERANCE = 24.0
CHECK_SIDE = 256
CHECK_BOX = (64, 192, 48, 176)  # the region pass: y0, y1, x0, x1
GPU_CANDIDATES = ("fp16", "bf16")


@dataclass(frozen=True)
class PrecisionChoice:
    dtype: torch.dtype
    reason: str

    @property
    def name(self) -> str:
        return precision_name(self.dtype)


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


def precision_error(net: TransformerNet, dtype: torch.dtype, device: torch.device) -> tuple[float, float]:
    """(mean, max) grey-level difference from fp32 over a full pass and a region pass; ``net`` is untouched."""
    frame = check_frame(device)
    y0, y1, x0, x1 = CHECK_BOX
    with torch.inference_mode():
        reference = Painter(net, torch.float32, device, 0)(frame)
        trial = Painter(copy.deepcopy(net).to(dtype), dtype, device, 0)
        full = trial(frame)
        region = trial.regions(frame, [CHECK_BOX])[0]
    errors = [(full - reference).abs(), (region - reference[:, :, y0:y1, x0:x1]).abs()]
    mean = max(e.mean().item() for e in errors)
    worst = max(e.max().item() for e in errors)
    return mean, worst


def choose_precision(net: TransformerNet, device: torch.device, precision: str) -> PrecisionChoice:
    """``auto``: fp32 on the CPU; on a GPU the first of fp16, bf16 that passes the check, else fp32.
    A named precision is used as asked, on any device (half precision on a CPU is slow but exact
    enough to test the GPU numerics)."""
    if precision != "auto":
        return PrecisionChoice(DTYPES[precision], "as asked")
    if device.type == "cpu":
        return PrecisionChoice(torch.float32, "auto: fp32 on the CPU")
    failures = []
    for name in GPU_CANDIDATES:
        mean, worst = precision_error(net, DTYPES[name], device)
        if mean <= MEAN_TOLERANCE and worst <= MAX_TOLERANCE:  # nan fails both
            return PrecisionChoice(DTYPES[name], f"auto: {name} within {mean:.2f} (max {worst:.1f}) grey levels of fp32")
        failures.append(f"{name} off by {mean:.2f} (max {worst:.1f})")
    return PrecisionChoice(torch.float32, "auto: fp32, " + "; ".join(failures))
