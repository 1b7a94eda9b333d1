"""The camera reader's staging order, with a stand-in for libobs (the real one is in the e2e tests)."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import pytest

from fdstyle_obs.libobs import reader as reader_module
from fdstyle_obs.libobs.reader import SAME_READ_AFTER_S, SourceReader

WIDTH, HEIGHT = 8, 4


class StandInLibobs:
    """Answers every libobs call a read makes; stage surfaces are numbered, each holds the number
    of the read that staged it, and every map is recorded."""

    def __init__(self) -> None:
        self.surfaces: dict[int, np.ndarray] = {}
        self.read = 0
        self.mapped: list[int] = []
        self.staged: list[int] = []

    def gs_stagesurface_create(self, width: int, height: int, _format: int) -> int:
        surface = len(self.surfaces) + 100
        self.surfaces[surface] = np.zeros((height, width * 4), np.uint8)
        return surface

    def gs_stage_texture(self, surface: int, _texture: int) -> None:
        self.read += 1
        self.surfaces[surface][:] = self.read
        self.staged.append(surface)

    def gs_stagesurface_map(self, surface: int, data: Any, linesize: Any) -> bool:
        data._obj.value = self.surfaces[surface].ctypes.data
        linesize._obj.value = WIDTH * 4
        self.mapped.append(surface)
        return True

    def __getattr__(self, name: str) -> Callable[..., int]:
        answers = {"obs_source_removed": 0, "obs_source_get_base_width": WIDTH, "obs_source_get_base_height": HEIGHT}
        return lambda *_args: answers.get(name, 1)


@pytest.fixture
def libobs(monkeypatch: pytest.MonkeyPatch) -> StandInLibobs:
    stand_in = StandInLibobs()
    monkeypatch.setattr(reader_module, "lib", lambda: stand_in)
    return stand_in


def test_reads_far_apart_get_the_picture_they_staged(libobs: StandInLibobs) -> None:
    """A slow loop (a CPU painting) would otherwise see a picture one whole period old."""
    read = SourceReader("Camera")
    for expected in (1, 2, 3):
        picture = read()
        assert picture is not None and picture.shape == (HEIGHT, WIDTH, 3)
        assert (picture == expected).all()
        time.sleep(SAME_READ_AFTER_S * 1.5)
    assert libobs.mapped == libobs.staged


def test_reads_close_together_get_the_one_staged_a_read_earlier(libobs: StandInLibobs) -> None:
    """A fast loop never waits for the GPU to finish the copy it just asked for."""
    read = SourceReader("Camera")
    first = read()  # no earlier picture: this one is mapped at once
    assert first is not None and (first == 1).all()
    for expected in (1, 2, 3):  # each read at once after the last
        picture = read()
        assert picture is not None and (picture == expected).all()
    assert libobs.mapped == [libobs.staged[0], *libobs.staged[:-1]] and len(set(libobs.staged)) == 2
