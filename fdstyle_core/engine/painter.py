"""Running the style network on a frame, or on just a region of it.

The painter hides the processing size, the padding the network needs, the precision and the
timing.  Painting a region reuses the instance-norm statistics of the last full-frame pass, so
the region is painted the way the full frame would be there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch.nn import functional as F

from fdstyle_core.engine.devices import synchronize
from fdstyle_core.engine.inference.base import InferenceEngine
from fdstyle_core.engine.network import SIZE_MULTIPLE, Stats
from fdstyle_core.engine.region_costs import RegionCosts

# Below this side the network's reflection paddings do not fit; tiny frames are padded up to it.
MIN_NETWORK_SIDE = 16
# Context around a painted region, in network pixels: enough that the crop's own border
# (reflection padding instead of real neighbours) does not show inside the region.  The original
# network sees ±54 px (±46 with 5×5 end kernels), but its weights fade with distance: with 40 px
# the feathered composite of region passes stays within 1 grey level of exact ones on
# talking-head clips (32 px: up to 11 levels at region edges; 48 px costs ~10 % more).
REGION_CONTEXT = 40
# Region windows are this many network pixels longer at a time (more context), so that the few
# lengths a moving face makes repeat: an engine compiles kernels per input size (a new size cost
# OpenVINO bf16 on AMX twice the pass itself), and keeps the recent ones.
REGION_SIZE_STEP = 32

Box = tuple[int, int, int, int]  # y0, y1, x0, x1 in frame pixels, end exclusive


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def painted_size(height: int, width: int, processing_height: int) -> tuple[int, int]:
    """The size a frame of ``height``×``width`` is painted at, at most ``processing_height`` high
    (0: its own), before padding."""
    if 0 < processing_height < height:
        return processing_height, max(1, round(width * processing_height / height))
    return height, width


def network_input_size(height: int, width: int) -> tuple[int, int]:
    """The size a frame of ``height``×``width`` network pixels is padded to: what the network accepts."""
    return max(MIN_NETWORK_SIDE, _round_up(height, SIZE_MULTIPLE)), max(MIN_NETWORK_SIDE, _round_up(width, SIZE_MULTIPLE))


def _window_span(start: int, end: int, limit: int) -> tuple[int, int]:
    """``start``–``end`` (network pixels) with context, starting on the stride grid, of a length
    that is a multiple of :data:`REGION_SIZE_STEP` (or all of ``limit``), within 0–``limit``."""
    low = max(0, (start - REGION_CONTEXT) // SIZE_MULTIPLE * SIZE_MULTIPLE)
    high = min(limit, end + REGION_CONTEXT)
    length = _round_up(high - low, REGION_SIZE_STEP)
    if length >= limit:
        return 0, limit
    low = min(max(0, low - (length - (high - low)) // 2), limit - length) // SIZE_MULTIPLE * SIZE_MULTIPLE
    return low, low + length


def _upsample_window(painted: torch.Tensor, origin: tuple[int, int], box: Box, scale: tuple[float, float]) -> torch.Tensor:
    """Sample ``box`` (frame pixels) from a painted network-size window starting at ``origin``.

    Uses the very source coordinates that ``F.interpolate(bilinear, align_corners=False)``
    uses for the whole frame, so a region lines up with a full-frame pass to the sub-pixel.
    """
    y0, y1, x0, x1 = box
    (oy, ox), (sy, sx) = origin, scale
    h, w = painted.shape[-2:]
    ys = ((torch.arange(y0, y1, device=painted.device) + 0.5) * sy - 0.5).clamp(min=0) - oy
    xs = ((torch.arange(x0, x1, device=painted.device) + 0.5) * sx - 0.5).clamp(min=0) - ox
    grid_y = (2 * ys + 1) / h - 1  # grid_sample's align_corners=False normalization
    grid_x = (2 * xs + 1) / w - 1
    grid = torch.stack(torch.meshgrid(grid_x, grid_y, indexing="xy"), dim=-1)[None]
    return F.grid_sample(painted, grid.to(painted.dtype), mode="bilinear", padding_mode="border", align_corners=False)


@runtime_checkable
class RegionPainter(Protocol):
    """What a stabilizer may ask of a painter beyond painting a whole frame (which records its
    normalization statistics): regions painted with those statistics, and what a region costs."""

    @property
    def has_statistics(self) -> bool: ...

    def __call__(self, frame: torch.Tensor) -> torch.Tensor: ...

    def regions(self, frame: torch.Tensor, boxes: list[Box]) -> list[torch.Tensor]: ...

    def region_cost(self, height: int, width: int, box: Box) -> float: ...


@dataclass
class PaintWork:
    """The network work a painter did: what a frame cost it."""

    passes: int = 0  # network runs, whole frames and regions together
    region_passes: int = 0
    network_ms: float = 0.0  # measured only by a timed painter


class Painter:
    """Callable on a full frame (N×3×H×W float 0–255) → stylized frame of the same size.

    A timed painter waits for the device after each pass to measure it; an untimed one lets a
    GPU run ahead (the download of the frame waits for it anyway).  A painter without
    ``statistics`` runs the plain network, faster, and paints no regions.  On the CPU, and when
    timed, it weighs regions by measured time (:mod:`fdstyle_core.engine.region_costs`).
    """

    def __init__(self, engine: InferenceEngine, processing_height: int, timed: bool = False, statistics: bool = True) -> None:
        self.engine, self.device = engine, engine.device
        self._stats: Stats | None = None
        self.processing_height = processing_height
        self.timed = timed
        self.records_statistics = statistics
        self._work = PaintWork()
        self._costs = RegionCosts()
        self._measures_costs = timed or self.device.type == "cpu"  # there a pass's wall time is its work
        self._region_sizes_run: set[tuple[int, int]] = set()

    def take_work(self) -> PaintWork:
        """The work done since the last call (the last frame's, when called once a frame)."""
        work, self._work = self._work, PaintWork()
        return work

    def _network_size(self, height: int, width: int) -> tuple[int, int]:
        return painted_size(height, width, self.processing_height)

    @staticmethod
    def _padded(x: torch.Tensor) -> torch.Tensor:
        """``x`` padded on the bottom and right to a size the network accepts."""
        h, w = x.shape[-2:]
        padded_h, padded_w = network_input_size(h, w)
        pad_h, pad_w = padded_h - h, padded_w - w
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        return x

    def _run(self, work, runs: int = 1):  # type: ignore[no-untyped-def]
        """``work()``, counted as ``runs`` network passes (and timed, for a timed painter)."""
        started = time.perf_counter()
        result = work()
        if self.timed:
            synchronize(self.device)
            self._work.network_ms += (time.perf_counter() - started) * 1000
        self._work.passes += runs
        return result

    def _ms_since(self, started: float) -> float:
        """Milliseconds of the work since ``started`` (waiting for a GPU, which only a timed painter measures)."""
        if self.device.type != "cpu":
            synchronize(self.device)
        return (time.perf_counter() - started) * 1000

    def _to_network(self, frame: torch.Tensor) -> torch.Tensor:
        size = self._network_size(*frame.shape[-2:])
        if size == tuple(frame.shape[-2:]):
            return frame[:, :3]
        try:
            return F.interpolate(frame[:, :3], size=size, mode="bilinear", antialias=True, align_corners=False)
        except NotImplementedError:  # antialiased resizing is missing on some MPS builds: area averaging
            return F.interpolate(frame[:, :3], size=size, mode="area")

    def __call__(self, frame: torch.Tensor) -> torch.Tensor:
        """Paint the whole frame and, if this painter records them, remember its normalization statistics for regions."""

        def work() -> torch.Tensor:
            x = self._to_network(frame)
            size = (x.shape[-2], x.shape[-1])
            if self.records_statistics:
                started = time.perf_counter()
                y, self._stats = self.engine.full(self._padded(x))
                if self._measures_costs and self._costs.knows_whole(size):
                    self._costs.record_whole(size, self._ms_since(started))
                elif self._measures_costs:
                    self._calibrate_whole(self._padded(x), size)
            else:
                y = self.engine.plain(self._padded(x))
            y = y[:, :, : x.shape[-2], : x.shape[-1]]
            if y.shape[-2:] != frame.shape[-2:]:
                y = F.interpolate(y, size=tuple(frame.shape[-2:]), mode="bilinear", align_corners=False)
            return y.clamp_(0, 255)

        return self._run(work)

    def _calibrate_whole(self, x: torch.Tensor, size: tuple[int, int]) -> None:
        """Time the whole-frame pass once more at a new size (the first compiled): what regions are weighed against."""
        if self.device.type != "cpu":
            synchronize(self.device)  # the first pass may still be running
        started = time.perf_counter()
        self.engine.full(x)
        self._costs.record_whole(size, self._ms_since(started))

    @property
    def has_statistics(self) -> bool:
        return self._stats is not None

    @property
    def statistics(self) -> Stats | None:
        """The instance-norm statistics of the last full pass, which region passes reuse."""
        return self._stats

    def use_statistics(self, stats: Stats) -> None:
        """Paint regions with the statistics of a full pass made earlier (a cached one, in eval)."""
        self._stats = stats

    def _window(self, height: int, width: int, box: Box) -> tuple[Box, tuple[int, int]]:
        """The network-pixel window that paints ``box`` (with context, on the stride grid), and the network size."""
        nh, nw = self._network_size(height, width)
        y0, y1, x0, x1 = box
        ny0, ny1 = _window_span(int(y0 * nh / height), int(y1 * nh / height + 1), nh)
        nx0, nx1 = _window_span(int(x0 * nw / width), int(x1 * nw / width + 1), nw)
        return (ny0, ny1, nx0, nx1), (nh, nw)

    def region_cost(self, height: int, width: int, box: Box) -> float:
        """Network work for painting ``box`` alone, as a share of a whole-frame pass."""
        (ny0, ny1, nx0, nx1), size = self._window(height, width, box)
        return self._costs.share(size, (ny1 - ny0) * (nx1 - nx0))

    def regions(self, frame: torch.Tensor, boxes: list[Box]) -> list[torch.Tensor]:
        """Paint only ``boxes`` of ``frame`` (same size as the last full pass); returns each box's pixels."""
        assert self.has_statistics, "paint a full frame first"

        def work() -> list[torch.Tensor]:
            height, width = frame.shape[-2:]
            x = self._to_network(frame)  # shrunk once for all boxes
            windows = [self._window(height, width, box)[0] for box in boxes]
            sizes = {(y1 - y0, x1 - x0) for y0, y1, x0, x1 in windows}
            started = time.perf_counter()
            painted = [self._paint_window(x, height, width, box) for box in boxes]
            if self._measures_costs and sizes <= self._region_sizes_run:  # a new size's first pass builds kernels
                self._costs.record_regions(self._ms_since(started), sum((y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in windows))
            self._region_sizes_run |= sizes
            return painted

        self._work.region_passes += len(boxes)
        return self._run(work, runs=len(boxes))

    def _paint_window(self, x: torch.Tensor, height: int, width: int, box: Box) -> torch.Tensor:
        (ny0, ny1, nx0, nx1), (nh, nw) = self._window(height, width, box)
        y0, y1, x0, x1 = box
        window = x[:, :, ny0:ny1, nx0:nx1]
        assert self._stats is not None
        painted = self.engine.region(self._padded(window), self._stats)[:, :, : window.shape[-2], : window.shape[-1]]
        if (nh, nw) == (height, width):
            return painted[:, :, y0 - ny0 : y1 - ny0, x0 - nx0 : x1 - nx0].clamp_(0, 255)
        return _upsample_window(painted, (ny0, nx0), box, (nh / height, nw / width)).clamp_(0, 255)
