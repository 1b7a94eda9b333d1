"""The `reference` mode: the paper's frame-difference idea without its ghosts, seams and waste.

What changes against `paper`, and why:

* **Per-pixel reference.**  A pixel counts as changed when the input differs from the input it
  was last painted from, not merely from the previous frame.  Slow motion accumulates until it
  is repainted, and background uncovered by a person differs from the person who covered it,
  so it is repainted instead of keeping a ghost.
* **Thin motion survives.**  The paper removes noise by dilating the background, which also
  erases thin moving parts (a mouth, an eyelid, the edge of a head).  Here an isolated changed
  pixel is dropped only if fewer than ``SPECK_NEIGHBOURS`` of its 3×3 neighbourhood changed:
  noise specks go, lines stay.  The region then grows by the paper's erosion of the background.
* **No seams.**  New paint blends into the kept paint over ``feather`` pixels outside the
  repainted region.
* **Whole-frame changes.**  When more than ``refresh_fraction`` of the frame changed (camera
  bumped, lights switched), the whole frame is repainted, optionally cross-faded.
* **No wasted work.**  Without change the network is not run; a small changed region is painted
  alone, with the full frame's normalization statistics (see :mod:`fdstyle_core.painter`).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .painter import Box, Painter
from .stabilizer import MaskParams, Stylize, StepResult, ThresholdStabilizer, dilate, grey

SPECK_NEIGHBOURS = 3
# Paint a region alone while its network window (with context) costs at most this share of
# a full pass; beyond, a full pass costs about the same and refreshes the normalization statistics.
REGION_MAX_COST = 0.9
# Re-measure normalization statistics with a full pass at least this often (frames).
STATS_REFRESH_FRAMES = 60


def changed_region(changed: torch.Tensor, params: MaskParams) -> torch.Tensor:
    """Changed pixels without noise specks, grown to cover the moving outline (1 = repaint)."""
    counts = F.avg_pool2d(changed, 3, stride=1, padding=1, count_include_pad=False) * 9
    kept = changed * (counts >= SPECK_NEIGHBOURS - 0.5).float()
    return dilate(kept, params.erode_kernel, params.erode_iters)


def feathered(region: torch.Tensor, radius: int) -> torch.Tensor:
    """1 inside ``region``, falling about linearly to 0 over ``radius`` px outside it.

    Twice a (2r+1)-box average of the region is ≈1 at its edge and 0 at r px away along a
    straight edge; done as a row pass and a column pass, it costs O(r) per pixel.
    """
    if radius == 0:
        return region
    side = 2 * radius + 1
    rows = F.avg_pool2d(region, (1, side), stride=1, padding=(0, radius), count_include_pad=False)
    box = F.avg_pool2d(rows, (side, 1), stride=1, padding=(radius, 0), count_include_pad=False)
    return torch.maximum(region, (2 * box).clamp_(max=1))


def bounding_box(mask: torch.Tensor) -> Box | None:
    rows = mask.amax(dim=(0, 1, 3)).nonzero()
    if rows.numel() == 0:
        return None
    cols = mask.amax(dim=(0, 1, 2)).nonzero()
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


class ReferenceStabilizer(ThresholdStabilizer):
    """Ghost-free, seam-free frame-difference stabilizer that paints only what changed."""

    def reset(self) -> None:
        super().reset()
        self._reference: torch.Tensor | None = None  # grey input each output pixel was painted from
        self._output: torch.Tensor | None = None
        self._prev_grey: torch.Tensor | None = None
        self._fade_from: torch.Tensor | None = None
        self._fade_step = 0
        self._since_full_pass = 0

    def _full_pass(self, frame: torch.Tensor, stylize: Stylize) -> torch.Tensor:
        self._since_full_pass = 0
        return stylize(frame)

    def _repaint_all(self, frame: torch.Tensor, now: torch.Tensor, stylize: Stylize) -> StepResult:
        """Whole-frame refresh; with cross-fade, blend from the old picture over the next frames."""
        fresh = self._full_pass(frame, stylize)
        frames = self.params.crossfade_frames
        if self._fade_from is None and frames and self._output is not None:
            self._fade_from, self._fade_step = self._output, 0
        if self._fade_from is not None:
            self._fade_step += 1
            weight = self._fade_step / frames
            output = torch.lerp(self._fade_from, fresh, weight)
            if self._fade_step >= frames:
                self._fade_from = None
        else:
            output = fresh
        self._reference, self._output, self._prev_grey = now, output, now
        return StepResult(output, torch.zeros_like(now), True)

    def step(self, frame: torch.Tensor, stylize: Stylize) -> StepResult:
        now = grey(frame)
        if self._reference is None or self._output is None or self._prev_grey is None:
            return self._repaint_all(frame, now, stylize)
        threshold = self._update_threshold(now, self._prev_grey)
        changed = ((now - self._reference).abs() > threshold).float()
        if self._fade_from is not None or changed.mean().item() > self.params.refresh_fraction:
            return self._repaint_all(frame, now, stylize)
        self._prev_grey = now
        self._since_full_pass += 1
        region = changed_region(changed, self.params)
        alpha = feathered(region, self.params.feather)
        box = bounding_box(alpha)
        if box is None and self.params.skip_work:
            return StepResult(self._output, torch.ones_like(now), False)
        if box is None:
            box = (0, now.shape[-2], 0, now.shape[-1])
        y0, y1, x0, x1 = box
        if (
            self.params.skip_work
            and isinstance(stylize, Painter)  # a plain callable (e.g. eval's cached paint) paints whole frames
            and stylize.has_statistics
            and self._since_full_pass < STATS_REFRESH_FRAMES
            and stylize.region_cost(*now.shape[-2:], box) <= REGION_MAX_COST
        ):
            fresh = stylize.region(frame, box)
        else:
            fresh = self._full_pass(frame, stylize)[:, :, y0:y1, x0:x1]
        output = self._output.clone()
        a = alpha[:, :, y0:y1, x0:x1]
        output[:, :, y0:y1, x0:x1] = torch.lerp(self._output[:, :, y0:y1, x0:x1], fresh, a)
        self._reference = torch.where(region.bool(), now, self._reference)
        self._output = output
        return StepResult(output, 1 - alpha, True)
