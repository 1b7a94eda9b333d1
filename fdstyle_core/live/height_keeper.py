"""Automatic height, live: keep the painting at the largest height that holds the frame rate.

The pipeline picks a height by timing the network once; only frames painted live tell whether
it holds (a talking head repaints more than the estimate assumes, the host gets busy, the camera
is slower than the target).  After every painted frame the keeper is told how long frames take
and whether the frame had to be waited for; every :data:`JUDGE_AFTER_FRAMES` frames it judges
the height.  Both live loops use it: the OBS worker and the command line on a camera or the screen.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from fdstyle_core.engine.pipeline import MIN_SOURCE_FPS, Pipeline

log = logging.getLogger("fdstyle")

# Weight of the newest frame's time in the smoothed time judged.
SMOOTHING = 0.2
# Automatic height judges a height after this many frames at it.  It steps down when a frame takes
# longer than this many periods of the target fps (a call shows at most 30; fewer still look smooth)
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
# first), the source is slower than the painting: Automatic aims at the source's rate instead.
SOURCE_BOUND_SHARE = 0.5
# Aimed at such a source, when the reader waited for at most this share of the frames, the source
# keeps up with the painting again (it sped up): Automatic aims at the target fps again.  The gap
# between the two shares keeps a painting that takes about the source's period where it is.
SOURCE_CAUGHT_UP_SHARE = 0.1


@dataclass
class Judgement:
    """The frames painted at Automatic's current height: how many, how many the reader had to wait
    for (the source was slower), when the first and the last were done."""

    choice: object = None
    frames: int = 0
    waited: int = 0
    since: float = 0.0
    last: float = 0.0

    def source_fps(self, now: float) -> float:
        """Frames per second over the judgement (the source's rate when most were waited for)."""
        return (self.frames - 1) / (now - self.since) if now > self.since else 0.0


class HeightKeeper:
    """Judges Automatic's height on the frames painted at it: aims at a source slower than the
    target fps (and at the target again when it speeds up), steps one height down when frames keep
    taking too long for the aimed fps, one up when they have room."""

    def __init__(self) -> None:
        self._judged = Judgement()
        self._latency_ms = 0.0  # smoothed

    def reset(self) -> None:
        """Start judging anew (painting was off: those frames say nothing of it)."""
        self._judged, self._latency_ms = Judgement(), 0.0

    def frame_done(self, pipeline: Pipeline, read_at: float, waited: bool = False) -> None:
        """One more frame painted and written out: ``read_at`` is the ``time.perf_counter()`` when
        it was taken from the source, ``waited`` whether the reader found no new picture first."""
        if pipeline.auto_height is None or pipeline.config is None:
            self.reset()
            return
        now, judged = time.perf_counter(), self._judged
        took = (now - read_at) * 1000
        self._latency_ms = took if not self._latency_ms else self._latency_ms + SMOOTHING * (took - self._latency_ms)
        if judged.choice is not pipeline.auto_height or read_at - judged.last > STALL_S:
            judged = self._judged = Judgement(pipeline.auto_height, since=now)
        judged.frames += 1
        judged.last = now
        judged.waited += waited
        if judged.frames >= JUDGE_AFTER_FRAMES:
            self._judge(pipeline, judged, self._latency_ms, now)

    def _judge(self, pipeline: Pipeline, judged: Judgement, latency: float, now: float) -> None:
        assert pipeline.auto_height is not None and pipeline.config is not None
        period = 1000 / pipeline.aimed_fps
        slow = SOURCE_SLOW_FACTOR if pipeline.follows_source else SLOW_PERIOD_FACTOR
        if judged.waited >= SOURCE_BOUND_SHARE * judged.frames and pipeline.aim_at_source_rate(judged.source_fps(now)):
            log.info("Automatic height: aiming at the source's %.1f fps", pipeline.aimed_fps)
            self.reset()  # judge the new aim on frames of its own
        elif judged.waited <= SOURCE_CAUGHT_UP_SHARE * judged.frames and pipeline.aim_at_target():
            log.info("Automatic height: the source keeps up again, aiming at the target's %.0f fps", pipeline.aimed_fps)
            self.reset()
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
