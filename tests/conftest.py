"""Shared fixtures: the read-only data beside the checkout, found or failed loudly (never skipped)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


def require(condition: bool, reason: str) -> None:
    """A missing system tool fails in CI (CI=true) and skips, with the reason, on a developer's machine."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("FDSTYLE_DATA", REPO.parent / "shared" / "data")).resolve()
    if not (path / "models" / "pytorch_examples").is_dir():
        pytest.fail(f"shared test data not found at {path} (set FDSTYLE_DATA)", pytrace=False)
    return path


@pytest.fixture
def costs_by_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regions weighed by their share of the frame's pixels, not by this machine's timings: for
    tests of which passes a frame gets, which must not depend on how busy the machine is."""
    from fdstyle_core.engine.region_costs import RegionCosts

    monkeypatch.setattr(RegionCosts, "share", lambda self, size, pixels: pixels / (size[0] * size[1]))


@pytest.fixture(scope="session")
def candy(data_dir: Path) -> Path:
    return data_dir / "models" / "pytorch_examples" / "candy.pth"


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None, path
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_clip(source: Path, count: int, size: tuple[int, int], start: int = 0) -> list[np.ndarray]:
    """``count`` RGB frames resized to ``size`` (w, h) from a video file or a CDnet folder."""
    frames: list[np.ndarray] = []
    if source.is_dir():
        paths = sorted((source / "input").glob("*.jpg"))[start : start + count]
        frames = [read_rgb(p) for p in paths]
    else:
        cap = cv2.VideoCapture(str(source))
        cap.set(cv2.CAP_PROP_POS_FRAMES, start)
        while len(frames) < count:
            ok, bgr = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        cap.release()
    assert len(frames) == count, f"{source} gave {len(frames)} frames"
    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
