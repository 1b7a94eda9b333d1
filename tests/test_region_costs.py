"""Region costs: the share of pixels until measured, then measured time against a whole-frame pass."""

from __future__ import annotations

import pytest
import torch

from fdstyle_core.engine.inference.torch_engine import TorchEngine
from fdstyle_core.engine.painter import Painter
from fdstyle_core.engine.region_costs import SMOOTHING, RegionCosts
from fdstyle_core.engine.styles import default_style, load_network


def test_unmeasured_regions_cost_their_share_of_pixels() -> None:
    costs = RegionCosts()
    assert costs.share((100, 200), 5_000) == pytest.approx(0.25)
    costs.record_whole((100, 200), 10.0)
    assert costs.share((100, 200), 5_000) == pytest.approx(0.25)  # regions not yet timed


def test_measured_regions_cost_their_time_against_a_whole_frame_pass() -> None:
    costs = RegionCosts()
    costs.record_whole((100, 200), 10.0)
    costs.record_regions(12.0, 6_000)  # 2 µs a pixel: regions slower per pixel than the 0.5 µs whole-frame pass
    assert costs.knows_whole((100, 200)) and not costs.knows_whole((50, 100))
    assert costs.share((100, 200), 5_000) == pytest.approx(1.0)
    assert costs.share((50, 100), 1_000) == pytest.approx(0.2)  # that size's whole-frame pass is not timed yet


def test_one_slow_measurement_moves_the_estimate_only_partly() -> None:
    costs = RegionCosts()
    costs.record_whole((10, 10), 10.0)
    costs.record_whole((10, 10), 20.0)
    costs.record_regions(1.0, 100)
    assert costs.share((10, 10), 100) == pytest.approx(1.0 / (10.0 + SMOOTHING * 10.0))
    costs.record_regions(0.0, 0)  # no pixels: nothing to learn
    assert costs.share((10, 10), 100) == pytest.approx(1.0 / (10.0 + SMOOTHING * 10.0))


def test_a_painter_times_region_sizes_it_has_run_before(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first pass at a new size builds the engine's kernels: timing it would make regions look dear for good."""
    recorded: list[int] = []
    monkeypatch.setattr(RegionCosts, "record_regions", lambda self, ms, pixels: recorded.append(pixels))
    style = default_style()
    assert style is not None
    painter = Painter(TorchEngine(load_network(style.path), torch.device("cpu")), processing_height=0)
    frame = torch.rand(1, 3, 240, 320) * 255
    with torch.inference_mode():
        painter(frame)
        painter.regions(frame, [(100, 140, 100, 150)])
        assert recorded == []
        painter.regions(frame, [(60, 100, 200, 250)])  # same size elsewhere
        assert len(recorded) == 1 and recorded[0] > 40 * 50  # the window with its context
        assert painter.region_cost(240, 320, (60, 100, 200, 250)) > 0
