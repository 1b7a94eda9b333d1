"""Automatic processing height: the largest height this machine paints at the target frame rate.

The network's cost grows with its pixel count, so one timed pass predicts the others; the
predicted height is then timed itself and stepped down while it misses.  It runs where the
frames are processed (the worker thread live), never on a host's UI thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

import torch

from fdstyle_core.engine.devices import synchronize
from fdstyle_core.engine.inference.base import InferenceEngine
from fdstyle_core.engine.painter import Painter, network_input_size, painted_size

# Heights offered, largest first; below the last the painting no longer reads as a painting.
HEIGHTS = (2160, 1440, 1080, 720, 540, 480, 360, 288, 240, 180, 144)
PROBE_HEIGHT = 240  # timed first: cheap everywhere, big enough to predict from
TRIES = 3  # timed heights at most, after the probe


@dataclass(frozen=True)
class HeightChoice:
    height: int  # rows painted (never more than the frame's own)
    reason: str


class PassTimer:
    """Times a full-frame pass (with or without its statistics) at a given height, for frames of
    ``frame_size`` (height, width) shrunk to it as a painter shrinks them; :meth:`release` then
    frees what an engine compiled only to be timed."""

    def __init__(self, engine: InferenceEngine, frame_size: tuple[int, int], statistics: bool = True) -> None:
        self.engine, self.frame_size, self.statistics = engine, frame_size, statistics
        self._sizes: dict[int, tuple[int, int]] = {}  # timed height → the engine's input size

    def __call__(self, height: int) -> float:
        """Milliseconds of the pass at ``height``."""
        size = painted_size(*self.frame_size, height)
        frame = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0)).mul_(255).to(self.engine.device)
        painter = Painter(self.engine, 0, statistics=self.statistics)
        self._sizes[height] = network_input_size(*size)
        best = float("inf")
        with torch.inference_mode():
            for _ in range(2):  # the first run compiles and warms caches
                started = time.perf_counter()
                painter(frame)
                synchronize(self.engine.device)
                best = min(best, (time.perf_counter() - started) * 1000)
        return best

    def release(self, keep: Collection[int] = ()) -> None:
        """Free the compiled graphs of every timed height but those in ``keep`` (the ones painted at)."""
        for height, size in self._sizes.items():
            if height not in keep:
                self.engine.discard(*size)


def choose_height(frame_height: int, budget_ms: float, timed: Callable[[int], float]) -> HeightChoice:
    """The largest of :data:`HEIGHTS` (or the frame's own height) whose full pass fits ``budget_ms``."""
    heights = [frame_height, *(h for h in HEIGHTS if h < frame_height)]
    probe = min(PROBE_HEIGHT, frame_height)
    measured = {probe: timed(probe)}

    def fits(height: int) -> bool:
        return measured[height] <= budget_ms

    def predicted(below: int, from_height: int) -> int:
        """The largest height under ``below`` that the measurement at ``from_height`` says fits,
        or a smaller one already measured to fit."""
        ms = measured[from_height]
        guess = next((h for h in heights if h <= below and ms * (h / from_height) ** 2 <= budget_ms), heights[-1])
        known = [h for h in measured if h <= below and fits(h)]
        return max([guess, *known])

    height = predicted(frame_height, probe)
    for _ in range(TRIES):
        if height not in measured:
            measured[height] = timed(height)
        if fits(height):
            return HeightChoice(height, f"{height} rows: a full pass takes {measured[height]:.0f} ms of a {budget_ms:.0f} ms budget")
        if height == heights[-1]:
            break
        height = predicted(heights[heights.index(height) + 1], height)
    smallest = min(measured)
    return HeightChoice(smallest, f"{smallest} rows: {measured[smallest]:.0f} ms, still misses the {budget_ms:.0f} ms budget")


def smaller_height(height: int) -> int | None:
    """The next of :data:`HEIGHTS` below ``height``, or None at the smallest."""
    return next((h for h in HEIGHTS if h < height), None)


def larger_height(height: int, ceiling: int) -> int | None:
    """The next of :data:`HEIGHTS` above ``height``, or ``ceiling`` itself if that comes first; None at it."""
    if height >= ceiling:
        return None
    return min([h for h in HEIGHTS if height < h < ceiling] + [ceiling])
