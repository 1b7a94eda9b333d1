"""Automatic processing height: measured on this machine, never above the camera, lower when slower."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from fdstyle_core.engine import pipeline as pipeline_module
from fdstyle_core.engine.auto_height import HEIGHTS, HeightChoice, choose_height, larger_height, smaller_height
from fdstyle_core.engine.pipeline import AUTO_HEIGHT, MIN_SOURCE_FPS, Pipeline, PipelineConfig
from fdstyle_core.engine.styles import default_style


def quadratic(ms_at_240: float):  # type: ignore[no-untyped-def]
    """A network whose cost grows with its pixel count, as real ones do; records what was timed."""
    timed: list[int] = []

    def timer(height: int) -> float:
        timed.append(height)
        return ms_at_240 * (height / 240) ** 2

    timer.timed = timed  # type: ignore[attr-defined]
    return timer


def test_the_largest_height_within_the_budget_is_chosen() -> None:
    choice = choose_height(1080, 40.0, quadratic(10.0))  # 10 ms at 240 rows: 480 rows take 40 ms
    assert choice.height == 480 and "40 ms of a 40 ms budget" in choice.reason


def test_never_above_the_camera_and_its_own_height_when_it_fits() -> None:
    assert choose_height(200, 1000.0, quadratic(1.0)).height == 200
    assert choose_height(1080, 1e9, quadratic(1.0)).height == 1080


def test_a_slower_engine_gets_a_smaller_height() -> None:
    fast, slow = choose_height(720, 33.0, quadratic(8.0)), choose_height(720, 33.0, quadratic(24.0))
    assert slow.height < fast.height


def test_a_machine_slower_than_predicted_steps_down() -> None:
    def lying(height: int) -> float:  # the probe looks fast, larger heights are far slower
        return 5.0 if height <= 240 else 500.0

    assert choose_height(720, 33.0, lying).height == 240


def test_hopeless_machines_get_the_smallest_height_tried() -> None:
    choice = choose_height(720, 1.0, quadratic(100.0))
    assert choice.height == HEIGHTS[-1] and "still misses" in choice.reason


def test_the_pipeline_measures_at_the_first_frame_and_on_a_camera_change(candy: Path) -> None:
    pipeline = Pipeline(PipelineConfig(style=str(candy), processing_height=AUTO_HEIGHT, target_fps=2))
    assert pipeline.auto_height is None  # nothing measured before a frame arrives
    for rows in (120, 160):
        frame = np.random.default_rng(rows).integers(0, 256, (rows, rows * 4 // 3, 3), dtype=np.uint8)
        assert pipeline.process(frame).shape == frame.shape
        assert pipeline.auto_height is not None and pipeline.auto_height.height == rows  # 2 fps: its own size fits
        assert pipeline.painter.processing_height == pipeline.auto_height.height
        assert "Automatic:" in pipeline.description
    chosen = pipeline.auto_height.height
    assert pipeline.taller_height is None and not pipeline.raise_height(15.0)  # never above the camera
    assert pipeline.lower_height(400.0) and pipeline.auto_height.height < chosen
    assert "stepped down" in pipeline.description
    assert pipeline.taller_height == chosen and pipeline.raise_height(15.0) and pipeline.auto_height.height == chosen
    assert "stepped up" in pipeline.description


def test_steps_follow_the_height_list_and_stop_at_the_ends() -> None:
    assert smaller_height(360) == 288 and smaller_height(HEIGHTS[-1]) is None
    assert larger_height(240, 720) == 288 and larger_height(480, 500) == 500 and larger_height(500, 500) is None


def test_a_source_slower_than_the_target_is_painted_for_its_own_rate(candy: Path) -> None:
    pipeline = Pipeline(PipelineConfig(style=str(candy), processing_height=AUTO_HEIGHT, target_fps=30))
    assert not pipeline.aim_at_source_rate(12.0)  # nothing measured before a frame arrives
    frame = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    pipeline.process(frame)
    assert not pipeline.aim_at_source_rate(28.0)  # a 29.97 fps camera is a 30 fps one
    assert not pipeline.aim_at_source_rate(MIN_SOURCE_FPS / 2)  # a stalled source, not a slow one
    assert pipeline.aim_at_source_rate(12.0) and pipeline.aimed_fps == 12.0
    assert "Automatic (the source's 12 fps):" in pipeline.description
    pipeline.forget_source_rate()  # another camera: its rate is not known yet
    pipeline.process(frame)
    assert pipeline.aimed_fps == 30 and "source's" not in pipeline.description


def test_steps_up_stop_at_what_was_measured_for_the_aimed_rate() -> None:
    style = default_style()
    assert style is not None
    pipeline = Pipeline(PipelineConfig(style=str(style.path), processing_height=AUTO_HEIGHT, target_fps=1000))
    frame = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    pipeline.process(frame)
    assert pipeline.auto_height is not None and pipeline.auto_height.height == HEIGHTS[-1]  # 1000 fps: the smallest
    assert pipeline.taller_height is None  # a still scene's fast frames do not lift it past the measurement
    assert pipeline.aim_at_source_rate(MIN_SOURCE_FPS) and pipeline.taller_height is not None  # 10 fps: measured taller
    assert not pipeline.aim_at_target(MIN_SOURCE_FPS)  # frames no faster than the source followed
    assert pipeline.aim_at_target(2 * MIN_SOURCE_FPS) and pipeline.aimed_fps == 1000  # it sped up
    assert pipeline.taller_height is None and not pipeline.aim_at_target(1000.0)  # measured anew; aimed already


def test_graphs_compiled_only_to_time_a_height_are_freed(monkeypatch: pytest.MonkeyPatch) -> None:
    style = default_style()
    assert style is not None
    pipeline = Pipeline(PipelineConfig(style=str(style.path), processing_height=AUTO_HEIGHT, target_fps=1000))
    engine = pipeline.choice.engine
    assert engine.name == "openvino"  # the CPU default, which compiles a graph per frame size

    def whole_frame_heights() -> set[int]:
        return {height for graph, height, _ in engine._compiled if graph != "region"}  # noqa: SLF001 - its compile cache

    pipeline.process(np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8))
    assert pipeline.auto_height is not None and pipeline.auto_height.height == HEIGHTS[-1]  # 240 was timed too
    assert whole_frame_heights() == {HEIGHTS[-1]}  # and the engine check's 256×256 is gone as well

    def two_timed(frame_height: int, budget_ms: float, timed: Callable[[int], float]) -> HeightChoice:
        for height in (HEIGHTS[-1], 180, 240):  # the height painted now among them
            timed(height)
        return HeightChoice(180, "180 rows: as this test says")

    monkeypatch.setattr(pipeline_module, "choose_height", two_timed)
    assert pipeline.aim_at_source_rate(MIN_SOURCE_FPS) and pipeline.taller_height == 180
    assert whole_frame_heights() == {HEIGHTS[-1], 180}  # the height painted, and the most it climbs to
