"""What painting regions costs against a whole-frame pass, as measured on this machine.

The share of pixels alone misjudges it: a region pass runs the graph that takes frozen
statistics, has a fixed cost of its own, and an engine may build kernels for each new size.  On
a CPU a talking head's regions took longer than a pass over the whole frame, while their
pixels were less than half of it; the reference mode then repaints the frame instead.
"""

from __future__ import annotations

# Weight of the newest measurement: follows a busier machine within a few frames, rides out one slow frame.
SMOOTHING = 0.2

Size = tuple[int, int]  # network pixels, height × width


def _smoothed(old: float | None, new: float) -> float:
    return new if old is None else old + SMOOTHING * (new - old)


class RegionCosts:
    """Measured milliseconds of whole-frame passes (per network size) and of region pixels."""

    def __init__(self) -> None:
        self._whole_ms: dict[Size, float] = {}
        self._region_ms_per_pixel: float | None = None

    def knows_whole(self, size: Size) -> bool:
        return size in self._whole_ms

    def record_whole(self, size: Size, ms: float) -> None:
        self._whole_ms[size] = _smoothed(self._whole_ms.get(size), ms)

    def record_regions(self, ms: float, pixels: int) -> None:
        if pixels > 0:
            self._region_ms_per_pixel = _smoothed(self._region_ms_per_pixel, ms / pixels)

    def share(self, size: Size, pixels: int) -> float:
        """Regions of ``pixels`` network pixels as a share of a whole-frame pass at ``size``; until
        both are measured, their share of the frame's pixels."""
        whole_ms = self._whole_ms.get(size)
        if whole_ms and self._region_ms_per_pixel is not None:
            return pixels * self._region_ms_per_pixel / whole_ms
        return pixels / (size[0] * size[1])
