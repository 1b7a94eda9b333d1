"""Half an hour in a real OBS with every setting at its default: no drift, no leak, a clean exit.

Not part of the default run (``pytest -m soak`` runs it; ``FDSTYLE_SOAK_MINUTES`` shortens it for a
trial).  The figures it prints go into docs/results.md.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from pathlib import Path

import pytest

from obs_harness import Obs, scene_collection
from tests.conftest import require
from tests.test_obs_e2e import REPO, VENV, baseline_run, make_clip, wait_for

pytestmark = pytest.mark.soak

SOAK_MINUTES = float(os.environ.get("FDSTYLE_SOAK_MINUTES", "30"))
WARMUP_S = 120  # caches fill
SETTLED_S = 60  # then Automatic must have kept its height and aim this long
SETTLE_TIMEOUT_S = 600
SAMPLE_S = 60  # the first and the last minute's fps are medians over this long
RSS_GROWTH = 0.05
FPS_DRIFT = 0.2


def sampled_fps(obs: Obs, seconds: float) -> float:
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(obs.vendor("get_status")["fps"])
        time.sleep(5)
    return statistics.median(samples)


def wait_until_settled(obs: Obs) -> None:
    """Until the status's first part (engine, Automatic's height and why) stays the same for
    :data:`SETTLED_S`: a late re-measurement compiles graphs, and must not count as growth."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    last, since = "", time.monotonic()
    while time.monotonic() - since < SETTLED_S:
        described = obs.vendor("get_status")["text"].split(" · ")[0]
        if described != last:
            last, since = described, time.monotonic()
        assert time.monotonic() < deadline, f"Automatic did not settle in {SETTLE_TIMEOUT_S} s: {last}"
        time.sleep(5)


def test_half_an_hour_with_the_defaults(data_dir: Path, tmp_path: Path) -> None:
    require(shutil.which("obs") is not None and shutil.which("ffmpeg") is not None, "obs-studio and ffmpeg are needed")
    clip = make_clip(data_dir / "videos" / "talking" / "retalking_1.mp4", tmp_path / "talking.mp4", (640, 360), 0)
    script = {"path": str(REPO / "obs_fdstyle.py"), "settings": {"camera_source": "Camera"}}
    started = time.monotonic()
    with Obs(tmp_path / "obs", [scene_collection("Soak", clip, script)], env={"FDSTYLE_VENV": str(VENV)}) as obs:
        wait_for(lambda: obs.vendor("get_status")["frames"] >= 30, "the first painted frames", obs, timeout=180)
        time.sleep(WARMUP_S)
        wait_until_settled(obs)
        rss_first = obs.rss_kib()
        fps_first = sampled_fps(obs, SAMPLE_S)
        rss_minutes = [rss_first]
        while time.monotonic() - started < SOAK_MINUTES * 60 - SAMPLE_S:
            time.sleep(min(60.0, max(0.0, SOAK_MINUTES * 60 - SAMPLE_S - (time.monotonic() - started))))
            rss_minutes.append(obs.rss_kib())
        fps_last = sampled_fps(obs, SAMPLE_S)
        rss_last = obs.rss_kib()
        status = obs.vendor("get_status")
    assert obs.exit_code == 0 and obs.shutdown_s is not None and obs.shutdown_s < 10, (
        f"exit {obs.exit_code} in {obs.shutdown_s} s:\n{obs.output_tail()}"
    )
    baseline, _ = baseline_run(obs, tmp_path)
    print(
        f"soak {SOAK_MINUTES:g} min: fps first minute {fps_first:.1f}, last {fps_last:.1f}; "
        f"RSS after warm-up {rss_first / 1024:.0f} MiB, at the end {rss_last / 1024:.0f} MiB "
        f"(max {max(rss_minutes) / 1024:.0f}); frames {status['frames']}; {status['text']}; "
        f"leaks {obs.leaks()} (without the script {baseline.leaks()}); exit {obs.exit_code} in {obs.shutdown_s:.1f} s"
    )
    assert obs.leaks() <= baseline.leaks()
    assert rss_last <= (1 + RSS_GROWTH) * rss_first
    assert abs(fps_last - fps_first) <= FPS_DRIFT * fps_first
