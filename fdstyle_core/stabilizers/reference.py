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
* **No wasted work.**  Without change the network is not run; small changed regions are painted
  alone (parts far apart in windows of their own), with the full frame's normalization
  statistics (see :mod:`fdstyle_core.engine.painter`).  Every whole-frame pass measures them
  again (regions painted with older ones beside paint normalized afresh would show their edges),
  and the first change after ``STATS_REFRESH_FRAMES`` frames without one brings a whole-frame pass.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Callable, Iterable

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from fdstyle_core.engine.painter import Box, RegionPainter
from fdstyle_core.stabilizers import cpu_filters
from fdstyle_core.stabilizers.base import MaskParams, Stylize, StepResult, ThresholdStabilizer, dilate, grey

SPECK_NEIGHBOURS = 3
# Beyond this many separate changed parts, paint one box around all: grouping time grows with the
# cube of the count (24 parts: ~12 ms on a slow 2-core CPU).
MAX_PARTS = 24
# Paint a region alone while its network window (with context) costs at most this share of
# a full pass; beyond, a full pass costs about the same and refreshes the normalization statistics.
REGION_MAX_COST = 0.9
# Re-measure normalization statistics with a full pass at least this often (frames) while only regions change.
STATS_REFRESH_FRAMES = 60
# Above this share of the frame, the mask filters run on the whole frame instead of a window.
WINDOW_MAX_SHARE = 0.7


def changed_pixels(now: torch.Tensor, reference: torch.Tensor, threshold: float) -> tuple[torch.Tensor, int]:
    """Pixels whose grey level moved more than ``threshold`` from the one they were painted from
    (1 = changed; uint8 on a CPU, float elsewhere), and how many there are."""
    if now.device.type == "cpu":  # the same, several times faster
        return cpu_filters.changed_pixels(now, reference, threshold)
    changed = ((now - reference).abs() > threshold).float()
    return changed, int(changed.sum().item())


def changed_region(changed: torch.Tensor, params: MaskParams) -> torch.Tensor:
    """Changed pixels without noise specks, grown to cover the moving outline (1 = repaint; of
    ``changed``'s dtype)."""
    if changed.device.type == "cpu":  # the same, several times faster
        return cpu_filters.speck_free_grown(changed, SPECK_NEIGHBOURS, (params.erode_kernel - 1) * params.erode_iters + 1)
    return changed_region_torch(changed, params)


def changed_region_torch(changed: torch.Tensor, params: MaskParams) -> torch.Tensor:
    """:func:`changed_region` with torch operations (any device)."""
    counts = F.avg_pool2d(changed, 3, stride=1, padding=1, count_include_pad=False) * 9
    kept = changed * (counts >= SPECK_NEIGHBOURS - 0.5).float()
    return dilate(kept, params.erode_kernel, params.erode_iters)


def feathered(region: torch.Tensor, radius: int) -> torch.Tensor:
    """1 inside ``region``, falling about linearly to 0 over ``radius`` px outside it.

    Twice a (2r+1)-box average of the region is ≈1 at its edge and 0 at r px away along a
    straight edge; done as a row pass and a column pass, it costs O(r) per pixel.
    """
    if radius == 0:
        return region.float()
    if region.device.type == "cpu":  # the same, several times faster
        return cpu_filters.feathered(region, radius)
    return feathered_torch(region, radius)


def feathered_torch(region: torch.Tensor, radius: int) -> torch.Tensor:
    """:func:`feathered` with torch operations (any device)."""
    side = 2 * radius + 1
    rows = F.avg_pool2d(region, (1, side), stride=1, padding=(0, radius), count_include_pad=False)
    box = F.avg_pool2d(rows, (side, 1), stride=1, padding=(radius, 0), count_include_pad=False)
    return torch.maximum(region, (2 * box).clamp_(max=1))


def repaint_masks(changed: torch.Tensor, params: MaskParams) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`changed_region` and its :func:`feathered` alpha, computed only around the changed pixels.

    Both are zero beyond the reach of the speck filter (1 px), the growth and the feather from every
    changed pixel, so the filters run on that window alone.  Its margin keeps every average that is
    not zero away from the window's edges (the feather's two box passes reach twice its radius):
    the same result, without the whole-frame filters that were most of this mode's own cost on a
    CPU (~90 ms a 1280×720 frame).
    """
    box = bounding_box(changed)
    if box is None:
        return torch.zeros_like(changed), torch.zeros_like(changed, dtype=torch.float32)
    grow = (params.erode_kernel - 1) * params.erode_iters // 2
    margin = 1 + grow + 2 * params.feather + 1  # speck window, growth, feather's two passes, edge
    height, width = changed.shape[-2:]
    y0, y1 = max(0, box[0] - margin), min(height, box[1] + margin)
    x0, x1 = max(0, box[2] - margin), min(width, box[3] + margin)
    if (y1 - y0) * (x1 - x0) > WINDOW_MAX_SHARE * height * width:  # copying in and out would cost more
        region = changed_region(changed, params)
        return region, feathered(region, params.feather)
    region, alpha = torch.zeros_like(changed), torch.zeros_like(changed, dtype=torch.float32)
    region[..., y0:y1, x0:x1] = changed_region(changed[..., y0:y1, x0:x1], params)
    alpha[..., y0:y1, x0:x1] = feathered(region[..., y0:y1, x0:x1], params.feather)
    return region, alpha


def bounding_box(mask: torch.Tensor) -> Box | None:
    rows = mask.amax(dim=(0, 1, 3)).nonzero()
    if rows.numel() == 0:
        return None
    cols = mask.amax(dim=(0, 1, 2)).nonzero()
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _union(boxes: Iterable[Box]) -> Box:
    y0s, y1s, x0s, x1s = zip(*boxes)
    return min(y0s), max(y1s), min(x0s), max(x1s)


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def group_boxes(mask: torch.Tensor, cost: Callable[[Box], float], within: Box | None = None) -> list[Box]:
    """Boxes around the separate parts of ``mask``, merged wherever one window costs no more than two.

    Parts far apart (a face and a hand, two people, a speck in a corner) then get their own
    small network windows instead of one window spanning them and the still space between.
    Boxes never overlap, so no pixel is blended twice.  ``within``, a box known to hold every
    part, saves labelling the rest of the frame.
    """
    top, _, left, _ = within = within or (0, mask.shape[-2], 0, mask.shape[-1])
    window = mask[..., within[0] : within[1], within[2] : within[3]]
    found = (window.cpu().numpy() > 0).any(axis=(0, 1)).view(np.uint8)  # any frame of a batch, any channel
    stats = cv2.connectedComponentsWithStats(found, connectivity=8)[2]
    boxes = list(dict.fromkeys((int(y) + top, int(y + h) + top, int(x) + left, int(x + w) + left) for x, y, w, h, _ in stats[1:]))
    if len(boxes) > MAX_PARTS:
        return [_union(boxes)]
    cost = functools.cache(cost)

    def saving(a: Box, b: Box) -> float:
        return math.inf if _overlap(a, b) else cost(a) + cost(b) - cost(_union((a, b)))

    # Each merge drops the pairs of the two boxes merged and adds those of the new one.
    savings = {(a, b): saving(a, b) for a, b in itertools.combinations(boxes, 2)}
    while savings:
        (a, b), best = max(savings.items(), key=lambda item: item[1])
        if best < 0:
            break
        merged = _union((a, b))
        boxes = [box for box in boxes if box not in (a, b)]
        savings = {pair: value for pair, value in savings.items() if a not in pair and b not in pair}
        if merged not in boxes:
            savings.update({(box, merged): saving(box, merged) for box in boxes})
            boxes.append(merged)
    return boxes


class ReferenceStabilizer(ThresholdStabilizer):
    """Ghost-free, seam-free frame-difference stabilizer that paints only what changed."""

    def reset(self) -> None:
        super().reset()
        self._reference: torch.Tensor | None = None  # grey input each output pixel was painted from
        self._output: torch.Tensor | None = None
        self._prev_grey: torch.Tensor | None = None
        self._fade_from: torch.Tensor | None = None
        self._fade_step = self._fade_frames = 0
        self._since_statistics = 0

    def _full_pass(self, frame: torch.Tensor, stylize: Stylize) -> torch.Tensor:
        """A full pass that measures the normalization statistics again."""
        self._since_statistics = 0
        return stylize(frame)

    def _statistics_recent(self, stylize: Stylize) -> bool:
        """Whether regions may still be painted with the statistics the painter has.

        A plain callable paints whole frames only.
        """
        return (
            self.params.skip_work and isinstance(stylize, RegionPainter) and stylize.has_statistics
            and self._since_statistics < STATS_REFRESH_FRAMES
        )

    def _repaint_all(self, frame: torch.Tensor, now: torch.Tensor, stylize: Stylize) -> StepResult:
        """Whole-frame refresh; with cross-fade, blend from the old picture over the next frames."""
        fresh = self._full_pass(frame, stylize)
        if self._fade_from is None and self.params.crossfade_frames and self._output is not None:
            # The fade keeps the length it started with, even if the setting changes meanwhile.
            self._fade_from, self._fade_step, self._fade_frames = self._output, 0, self.params.crossfade_frames
        if self._fade_from is not None:
            self._fade_step += 1
            output = torch.lerp(self._fade_from, fresh, self._fade_step / self._fade_frames)
            if self._fade_step >= self._fade_frames:
                self._fade_from = None
        else:
            output = fresh
        self._reference, self._output, self._prev_grey = now.clone(), output, now  # the reference is updated in place
        return StepResult(output, torch.zeros_like(now), True)

    def step(self, frame: torch.Tensor, stylize: Stylize) -> StepResult:
        now = grey(frame)
        if self._reference is None or self._output is None or self._prev_grey is None:
            return self._repaint_all(frame, now, stylize)
        threshold = self._update_threshold(now, self._prev_grey)
        changed, count = changed_pixels(now, self._reference, threshold)
        if self._fade_from is not None or count > self.params.refresh_fraction * changed.numel():
            return self._repaint_all(frame, now, stylize)
        self._prev_grey = now
        self._since_statistics += 1
        region, alpha = repaint_masks(changed, self.params)
        box = bounding_box(alpha)
        if box is None and self.params.skip_work:
            return StepResult(self._output, torch.ones_like(now), False)
        output = self._output.clone()
        boxes = self._region_boxes(alpha, box, stylize)
        if boxes:
            for part, fresh in zip(boxes, stylize.regions(frame, boxes)):  # type: ignore[attr-defined]
                self._blend(output, fresh, alpha, part)
        else:
            y0, y1, x0, x1 = box or (0, now.shape[-2], 0, now.shape[-1])
            self._blend(output, self._full_pass(frame, stylize)[:, :, y0:y1, x0:x1], alpha, (y0, y1, x0, x1))
        self._take_where(self._reference, now, region, box)
        self._output = output
        return StepResult(output, 1 - alpha, True)

    def _region_boxes(self, alpha: torch.Tensor, box: Box | None, stylize: Stylize) -> list[Box]:
        """The boxes to paint alone, or none when new statistics are due or a full pass would cost about the same."""
        if not self._statistics_recent(stylize):
            return []
        height, width = alpha.shape[-2:]

        def cost(box: Box) -> float:
            return stylize.region_cost(height, width, box)

        boxes = group_boxes(alpha, cost, box)
        return boxes if sum(map(cost, boxes)) <= REGION_MAX_COST else []

    @staticmethod
    def _take_where(target: torch.Tensor, source: torch.Tensor, region: torch.Tensor, box: Box | None) -> None:
        """``target = source`` inside ``region``, in place; ``box`` (None: the frame) holds the region."""
        y0, y1, x0, x1 = box or (0, target.shape[-2], 0, target.shape[-1])
        window = (..., slice(y0, y1), slice(x0, x1))
        if target.device.type == "cpu":  # the same, many times faster
            cpu_filters.copy_where(target[window], source[window], region[window])
        else:
            target[window] = torch.where(region[window].bool(), source[window], target[window])

    @staticmethod
    def _blend(output: torch.Tensor, fresh: torch.Tensor, alpha: torch.Tensor, box: Box) -> None:
        """Blend ``fresh`` (the box's new paint) into ``output`` in place, weighted by ``alpha``."""
        y0, y1, x0, x1 = box
        kept = output[:, :, y0:y1, x0:x1]
        output[:, :, y0:y1, x0:x1] = torch.lerp(kept, fresh, alpha[:, :, y0:y1, x0:x1])
