"""The worker thread without OBS: a real Pipeline on tiny frames, fake readers and writers."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from fdstyle_core.errors import FdstyleError
from fdstyle_core.engine.pipeline import AUTO_HEIGHT, Pipeline, PipelineConfig
from fdstyle_core.live import height_keeper
from fdstyle_core.live import worker as worker_module
from fdstyle_core.live.worker import Worker, WorkerConfig, WorkerStatus

SIZE = (24, 32)


def wait_until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class Camera:
    """A reader that returns a new random frame on every call."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)
        self.calls = 0

    def __call__(self) -> np.ndarray:
        self.calls += 1
        return self.rng.integers(0, 256, (*SIZE, 3), dtype=np.uint8)


class SteadyCamera:
    """A reader whose picture changes ``fps`` times a second, like a real camera read more often."""

    def __init__(self, fps: float) -> None:
        self.period, self.started = 1 / fps, time.monotonic()
        self.rng = np.random.default_rng(0)
        self.frames: dict[int, np.ndarray] = {}

    def __call__(self) -> np.ndarray:
        index = int((time.monotonic() - self.started) / self.period)
        if index not in self.frames:
            self.frames = {index: self.rng.integers(0, 256, (*SIZE, 3), dtype=np.uint8)}
        return self.frames[index]


class Sink:
    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.lock = threading.Lock()

    def __call__(self, frame: np.ndarray) -> None:
        with self.lock:
            self.frames.append(frame)

    def count(self) -> int:
        with self.lock:
            return len(self.frames)


@pytest.fixture
def config(candy: Path) -> WorkerConfig:
    return WorkerConfig(PipelineConfig(style=str(candy), device="cpu", precision="fp32"), max_fps=200)


def run(worker: Worker) -> Worker:
    worker.start()
    return worker


def test_processes_frames_and_reports_status(config: WorkerConfig) -> None:
    sink = Sink()
    worker = run(Worker(Camera(), sink, config))
    try:
        wait_until(lambda: sink.count() >= 3)
        status = worker.status
        assert status.running and status.device == "openvino CPU fp32" and status.problem == ""
        assert status.fps > 0 and status.latency_ms > 0 and status.frames >= 3
        assert sink.frames[0].shape == (*SIZE, 3)
    finally:
        assert worker.stop()
    assert not worker.is_alive and worker.status.text() == "stopped"


def run_with_failing_writes(config: WorkerConfig, failures: int, error: Exception, frames: int) -> Worker:
    """A worker whose first ``failures`` writes raise ``error``; stopped once ``frames`` got through."""
    sink = Sink()
    remaining = iter(range(failures))

    def writer(frame: np.ndarray) -> None:
        if next(remaining, None) is not None:
            raise error
        sink(frame)

    worker = run(Worker(Camera(), writer, config))
    try:
        wait_until(lambda: sink.count() >= frames)
    finally:
        worker.stop()
    return worker


def test_a_failing_frame_is_logged_and_the_next_one_processed(config: WorkerConfig, caplog: pytest.LogCaptureFixture) -> None:
    worker = run_with_failing_writes(config, 1, ValueError("disk full"), frames=2)
    assert "a frame failed" in caplog.text
    assert worker.status.problem == ""  # cleared by the next good frame


def test_a_failure_on_every_frame_is_logged_once_with_a_count(config: WorkerConfig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fdstyle")
    run_with_failing_writes(config, 40, OSError("the virtual camera went away"), frames=1)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].exc_info is not None  # one traceback, not forty
    assert "stopped after 40 times in a row" in caplog.text


def test_bad_style_keeps_the_last_good_one(config: WorkerConfig, tmp_path: Path) -> None:
    sink = Sink()
    worker = run(Worker(Camera(), sink, config))
    try:
        wait_until(lambda: sink.count() >= 1)
        broken = tmp_path / "broken.pth"
        broken.write_bytes(b"not a model")
        worker.configure(replace(config, pipeline=replace(config.pipeline, style=str(broken))))
        wait_until(lambda: "broken.pth" in worker.status.problem)
        before = sink.count()
        wait_until(lambda: sink.count() >= before + 2)  # still painting with the old style
        assert "previous style keeps running" in worker.status.problem
    finally:
        worker.stop()


def test_disabled_passes_frames_through_and_mask_is_shown(config: WorkerConfig) -> None:
    camera, sink = Camera(), Sink()
    worker = run(Worker(lambda: camera(), sink, replace(config, enabled=False)))
    try:
        wait_until(lambda: sink.count() >= 1)
        worker.configure(replace(config, show_mask=True))
        wait_until(lambda: sink.count() >= 5)
    finally:
        worker.stop()
    last = sink.frames[-1]
    assert set(np.unique(last[:, :, :3])) <= {0, 255}, "the mask is black and white"


@pytest.mark.parametrize("camera_fps", [12, None])
def test_automatic_aims_at_a_camera_slower_than_the_target(config: WorkerConfig, camera_fps: float | None) -> None:
    automatic = replace(config.pipeline, processing_height=AUTO_HEIGHT, target_fps=60)
    camera = SteadyCamera(camera_fps) if camera_fps else Camera()  # None: a new picture at every read
    sink = Sink()
    worker = run(Worker(camera, sink, replace(config, pipeline=automatic)))
    try:
        wait_until(lambda: sink.count() >= 2 * height_keeper.JUDGE_AFTER_FRAMES + 5)
        status = worker.status
    finally:
        worker.stop()
    if camera_fps:
        assert "Automatic (the source's 1" in status.device, status  # 12 fps, give or take a frame
    else:
        assert "source's" not in status.device, status


def test_automatic_aims_at_the_target_again_when_the_camera_speeds_up(config: WorkerConfig) -> None:
    """Lights on: a camera that delivered 12 fps now delivers a new picture at every read."""
    automatic = replace(config.pipeline, processing_height=AUTO_HEIGHT, target_fps=60)
    slow, fast, sped_up = SteadyCamera(12), Camera(), threading.Event()
    sink = Sink()
    worker = run(Worker(lambda: fast() if sped_up.is_set() else slow(), sink, replace(config, pipeline=automatic)))
    try:
        wait_until(lambda: "Automatic (the source's 1" in worker.status.device)
        sped_up.set()
        wait_until(lambda: "Automatic:" in worker.status.device)
    finally:
        worker.stop()


def test_latest_frame_wins_and_repeated_frames_are_skipped(config: WorkerConfig) -> None:
    frame = np.full((*SIZE, 3), 100, np.uint8)
    sink = Sink()
    worker = run(Worker(lambda: frame, sink, config))
    try:
        wait_until(lambda: sink.count() >= 1)
        time.sleep(0.5)
        assert sink.count() == 1, "an unchanged picture is processed once"
        worker.configure(replace(config, enabled=False))  # e.g. an OBS image source, then a setting changes
        wait_until(lambda: sink.count() == 2)
        time.sleep(0.3)
    finally:
        worker.stop()
    assert sink.count() == 2, "a new setting shows on the still picture, once"
    assert np.array_equal(sink.frames[-1], frame)


class PretendGpu(Pipeline):
    """A CPU pipeline that says it is on a GPU when its config asks for one."""

    def __init__(self, config: PipelineConfig) -> None:
        super().__init__(replace(config, device="cpu"))
        self.fake_gpu = config.device != "cpu"
        self.failed = False

    @property
    def device(self) -> torch.device:
        return torch.device("cuda") if self.failed else super().device

    def fail(self, exc: Exception) -> None:
        """Raise ``exc`` as the pretend GPU's failure."""
        self.failed = True
        raise exc


class GpuThatFails(PretendGpu):
    """Runs out of memory on its first frame on the pretend GPU."""

    @property
    def description(self) -> str:
        return "cuda (fake)" if self.fake_gpu else super().description

    def process(self, frame: np.ndarray) -> np.ndarray:
        if self.fake_gpu:
            self.fail(RuntimeError("CUDA out of memory"))
        return super().process(frame)


def status_after_first_frame(gpu: WorkerConfig, factory: Callable[[PipelineConfig], Pipeline]) -> WorkerStatus:
    """Run a worker on ``gpu`` with a pretend-GPU pipeline until one frame comes out."""
    sink = Sink()
    worker = run(Worker(Camera(), sink, gpu, pipeline_factory=factory))
    try:
        wait_until(lambda: sink.count() >= 1)
        return worker.status
    finally:
        worker.stop()


def test_gpu_failure_falls_back_to_cpu_and_says_so(config: WorkerConfig) -> None:
    status = status_after_first_frame(replace(config, pipeline=replace(config.pipeline, device="cuda")), GpuThatFails)
    assert status.device == "openvino CPU fp32"
    assert "running on CPU" in status.notice


class GpuShortOfMemory(PretendGpu):
    """A pretend GPU that has memory only for paintings at most 30 rows high."""

    def __init__(self, config: PipelineConfig) -> None:
        super().__init__(config)
        self.fits = 0 < config.processing_height <= 30

    def process(self, frame: np.ndarray) -> np.ndarray:
        if not self.fits:
            self.fail(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
        return super().process(frame)


def test_out_of_memory_first_paints_smaller_on_the_gpu(config: WorkerConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "OOM_MIN_HEIGHT", 8)
    gpu = replace(config, pipeline=replace(config.pipeline, device="cuda", processing_height=0))
    status = status_after_first_frame(gpu, GpuShortOfMemory)
    assert f"painting at ≤ {SIZE[0] // 2} px high" in status.notice, status
    assert "CPU" not in status.notice


def test_status_text() -> None:
    assert WorkerStatus().text() == "stopped"
    line = WorkerStatus(running=True, device="cpu fp32", fps=12.34, latency_ms=80.4, problem="x").text()
    assert line == "cpu fp32 · 12.3 fps, 80 ms · problem: x"


def test_stop_without_start_and_bad_config_error_is_readable(candy: Path) -> None:
    assert Worker(Camera(), Sink()).stop()
    with pytest.raises(FdstyleError, match="unknown mode"):
        PipelineConfig(style=str(candy), mode="nope")
