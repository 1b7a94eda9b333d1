"""Region costs: the share of pixels until measured, then measured time against a plain pass."""

from __future__ import annotations

import pytest

from fdstyle_core.engine.region_costs import SMOOTHING, RegionCosts


def test_unmeasured_regions_cost_their_share_of_pixels() -> None:
    costs = RegionCosts()
    assert costs.share((100, 200), 5_000) == pytest.approx(0.25)
    costs.record_plain((100, 200), 10.0)
    assert costs.share((100, 200), 5_000) == pytest.approx(0.25)  # regions not yet timed


def test_measured_regions_cost_their_time_against_a_plain_pass() -> None:
    costs = RegionCosts()
    costs.record_plain((100, 200), 10.0)
    costs.record_regions(12.0, 6_000)  # 2 µs a pixel: regions slower per pixel than the 0.5 µs plain pass
    assert costs.knows_plain((100, 200)) and not costs.knows_plain((50, 100))
    assert costs.share((100, 200), 5_000) == pytest.approx(1.0)
    assert costs.share((50, 100), 1_000) == pytest.approx(0.2)  # that size's plain pass is not timed yet


def test_one_slow_measurement_moves_the_estimate_only_partly() -> None:
    costs = RegionCosts()
    costs.record_plain((10, 10), 10.0)
    costs.record_plain((10, 10), 20.0)
    costs.record_regions(1.0, 100)
    assert costs.share((10, 10), 100) == pytest.approx(1.0 / (10.0 + SMOOTHING * 10.0))
    costs.record_regions(0.0, 0)  # no pixels: nothing to learn
    assert costs.share((10, 10), 100) == pytest.approx(1.0 / (10.0 + SMOOTHING * 10.0))
