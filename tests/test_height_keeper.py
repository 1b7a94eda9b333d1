"""Automatic height judged live, on a simulated clock: a real pipeline, the worker's reading rhythm."""

from __future__ import annotations

import numpy as np
import pytest

from fdstyle_core.engine.pipeline import AUTO_HEIGHT, Pipeline, PipelineConfig
from fdstyle_core.engine.styles import default_style
from fdstyle_core.live.height_keeper import HeightKeeper

READ_TICK_S = 1 / 30  # the worker reads OBS's frame at its 30 fps


class Live:
    """A camera making ``camera_fps`` pictures a second, read as the worker reads it: right after a
    frame is painted, then at every tick until a new picture is there (a frame waited for)."""

    def __init__(self) -> None:
        style = default_style()
        assert style is not None
        self.pipeline = Pipeline(PipelineConfig(style=str(style.path), processing_height=AUTO_HEIGHT, target_fps=30))
        self.pipeline.process(np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8))  # measures
        self.now = 0.0
        self.keeper = HeightKeeper(clock=lambda: self.now)
        self.last_picture = -1

    def run(self, seconds: float, camera_fps: float, paint_ms: float) -> None:
        end, waited = self.now + seconds, False
        while self.now < end:
            picture = int(self.now * camera_fps)
            if picture == self.last_picture:
                waited, self.now = True, self.now + READ_TICK_S
                continue
            self.last_picture, read_at = picture, self.now
            self.now += paint_ms / 1000
            self.keeper.frame_done(self.pipeline, read_at, waited)
            waited = False


@pytest.fixture
def live() -> Live:
    return Live()


def test_a_camera_that_speeds_up_minutes_later_is_followed_within_seconds(live: Live) -> None:
    live.run(300, camera_fps=12, paint_ms=20)  # five minutes of a dim room
    assert live.pipeline.follows_source and round(live.pipeline.aimed_fps) == 12
    live.run(3, camera_fps=30, paint_ms=20)  # lights on
    assert not live.pipeline.follows_source and live.pipeline.aimed_fps == 30


def test_painting_slower_than_the_camera_followed_keeps_following_it(live: Live) -> None:
    """No frame is waited for once painting takes longer than the camera's period, yet the camera
    did not speed up: Automatic keeps its rate (and steps down only past 1.2 of its periods)."""
    live.run(10, camera_fps=15, paint_ms=20)
    assert live.pipeline.follows_source
    live.run(60, camera_fps=15, paint_ms=73)
    assert live.pipeline.follows_source and round(live.pipeline.aimed_fps) == 15
