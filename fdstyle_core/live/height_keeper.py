"""Automatic height, live: keep the painting at the largest height that holds the frame rate.

The pipeline picks a height by timing the network once; only frames painted live tell whether
it holds (a talking head repaints more than the estimate assumes, the host gets busy, the camera
is slower than the target).  After every painted frame the keeper is told when the frame was read
and whether it had to be waited for; once :data:`JUDGE_AFTER_FRAMES` frames are painted at a
height, it judges the height on the latest of them.  Both live loops use it: the OBS worker, and
the command line on a camera or the screen (whose reads block until a frame comes, so it never
tells of waits: its target is already the camera's own rate).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fdstyle_core.engine.auto_height import HeightChoice
from fdstyle_core.engine.pipeline import MIN_SOURCE_FPS, Pipeline

log = logging.getLogger("fdstyle")

# Weight of the newest frame's time in the smoothed time judged.
SMOOTHING = 0.2
# Automatic height judges a height on the latest this many frames painted at it.  It steps down when
# frames take longer than this many periods of the target fps (a call shows at most 30; fewer still
# look smooth)
JUDGE_AFTER_FRAMES = 30
SLOW_PERIOD_FACTOR = 1.6
# ... or of a slower source's own rate, where every frame beyond it is a camera frame dropped.
SOURCE_SLOW_FACTOR = 1.2
# It steps up when a frame, its time grown with the pixel count, would still take under this share
# of a period there (the growth overestimates: reading, the stabilizer and the output do not grow
# with the painted height; the share keeps latency noise from bouncing it up and down).
TALLER_FITS_SHARE = 0.8
# Waiting longer than this for a new picture (three periods of the slowest source followed) is a
# stall or a pause, not a frame rate: the judgement starts anew.
STALL_S = 3 / MIN_SOURCE_FPS
# When the reader had to wait for at least this share of the frames (a read found no new picture
# first), the source is slower than the painting: Automatic aims at the source's rate instead (and
# at the target again once frames come clearly faster than that rate: the source sped up).
SOURCE_BOUND_SHARE = 0.5


@dataclass
class Judgement:
    """The latest frames painted at Automatic's current height: when each was done, and whether the
    reader had to wait for it (the source was slower)."""

    choice: HeightChoice | None = None
    done: deque[tuple[float, bool]] = field(default_factory=lambda: deque(maxlen=JUDGE_AFTER_FRAMES))

    @property
    def frames(self) -> int:
        return len(self.done)

    @property
    def waited(self) -> int:
        return sum(waited for _, waited in self.done)

    def painted_fps(self) -> float:
        """Frames per second over these frames (the source's rate when most were waited for)."""
        span = self.done[-1][0] - self.done[0][0] if self.done else 0.0
        return (len(self.done) - 1) / span if span > 0 else 0.0


class HeightKeeper:
    """Judges Automatic's height on the frames painted at it: aims at a source slower than the
    target fps (and at the target again when it speeds up), steps one height down when frames keep
    taking too long for the aimed fps, one up when they have room."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._judged = Judgement()
        self._latency_ms = 0.0  # smoothed

    def reset(self) -> None:
        """Start anew: painting was off, and those frames say nothing of it."""
        self._judged, self._latency_ms = Judgement(), 0.0

    def frame_done(self, pipeline: Pipeline, read_at: float, waited: bool = False) -> None:
        """One more frame painted and written out: ``read_at`` is the clock's time when it was
        taken from the source, ``waited`` whether the reader found no new picture first."""
        if pipeline.auto_height is None:
            self.reset()
            return
        now, judged = self._clock(), self._judged
        took = (now - read_at) * 1000
        self._latency_ms = took if not self._latency_ms else self._latency_ms + SMOOTHING * (took - self._latency_ms)
        if judged.choice is not pipeline.auto_height or (judged.done and read_at - judged.done[-1][0] > STALL_S):
            judged = self._judged = Judgement(pipeline.auto_height)
        judged.done.append((now, waited))
        if judged.frames >= JUDGE_AFTER_FRAMES:
            self._judge(pipeline, judged, self._latency_ms)

    def _judge(self, pipeline: Pipeline, judged: Judgement, latency: float) -> None:
        assert pipeline.auto_height is not None
        period = 1000 / pipeline.aimed_fps
        slow = SOURCE_SLOW_FACTOR if pipeline.follows_source else SLOW_PERIOD_FACTOR
        painted_fps = judged.painted_fps()
        if judged.waited >= SOURCE_BOUND_SHARE * judged.frames and pipeline.aim_at_source_rate(painted_fps):
            log.info("Automatic height: aiming at the source's %.1f fps", pipeline.aimed_fps)
            self._judged = Judgement()  # judge the new aim on frames of its own
        elif pipeline.aim_at_target(painted_fps):
            log.info("Automatic height: the source sped up, aiming at the target's %.0f fps", pipeline.aimed_fps)
            self._judged = Judgement()
        elif latency > slow * period:
            if pipeline.lower_height(latency):
                log.info("Automatic height: %s", pipeline.auto_height.reason)
        elif self._fits_taller(pipeline, latency, period):
            if pipeline.raise_height(latency):
                log.info("Automatic height: %s", pipeline.auto_height.reason)

    @staticmethod
    def _fits_taller(pipeline: Pipeline, latency: float, period: float) -> bool:
        """Whether a frame one height up, its time grown with the pixel count, keeps within the period's share."""
        taller, height = pipeline.taller_height, pipeline.auto_height
        return taller is not None and height is not None and latency * (taller / height.height) ** 2 < TALLER_FITS_SHARE * period
