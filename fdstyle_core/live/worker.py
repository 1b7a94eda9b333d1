"""A background thread that keeps a live output going: read the newest frame, process, write.

It knows nothing about OBS: the host passes a reader (returns the newest frame or ``None``), a
writer (takes the processed frame) and :class:`WorkerConfig` objects.  There is no queue: each
loop takes whatever frame is newest, so a slow network drops frames instead of adding latency.
Whatever goes wrong inside the loop is logged and shown in :attr:`Worker.status`; the thread
itself keeps running until :meth:`Worker.stop`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from fdstyle_core.engine.devices import is_device_failure, is_out_of_memory
from fdstyle_core.engine.selection import available_devices
from fdstyle_core.errors import FdstyleError
from fdstyle_core.engine.pipeline import Pipeline, PipelineConfig
from fdstyle_core.live.height_keeper import HeightKeeper

log = logging.getLogger("fdstyle")

Reader = Callable[[], "np.ndarray | None"]
Writer = Callable[[np.ndarray], None]
PipelineFactory = Callable[[PipelineConfig], Pipeline]
# Idle wait when there is nothing to do (no frame yet, disabled, no usable style).
IDLE_S = 0.02
# Weight of the newest sample in the smoothed fps and latency.
SMOOTHING = 0.2
WORKER_THREAD = "fdstyle-worker"
# Out of memory on a GPU halves the painted height down to this before leaving the GPU.
OOM_MIN_HEIGHT = 180
# A failure that repeats frame after frame is logged again only every this many times.
REPEAT_LOG_EVERY = 1000


@dataclass(frozen=True)
class WorkerConfig:
    pipeline: PipelineConfig
    enabled: bool = True  # False: frames pass through unchanged, so the call still sees the camera
    show_mask: bool = False  # show the stabilizer's mask (white = kept) instead of the painting
    max_fps: float = 30.0  # never read faster than the host shows frames
    source: str = ""  # what the reader reads: another one's frame rate is measured afresh


@dataclass(frozen=True)
class WorkerStatus:
    running: bool = False
    device: str = ""
    fps: float = 0.0
    latency_ms: float = 0.0
    frames: int = 0  # frames written since the start
    problem: str = ""  # empty when all is well
    notice: str = ""  # something the user should know that is not a failure (e.g. CPU fallback)

    def text(self) -> str:
        """One line for a status display."""
        if not self.running:
            return "stopped"
        parts = [self.device or "starting"]
        if self.fps:
            parts.append(f"{self.fps:.1f} fps, {self.latency_ms:.0f} ms")
        if self.notice:
            parts.append(self.notice)
        if self.problem:
            parts.append(f"problem: {self.problem}")
        return " · ".join(parts)


def is_gpu_failure(exc: BaseException, pipeline: Pipeline | None) -> bool:
    """A real device failure on a GPU (see ``is_device_failure``): worth retrying on the CPU."""
    return pipeline is not None and is_device_failure(exc, pipeline.device)


def mask_as_frame(mask: np.ndarray) -> np.ndarray:
    """The H×W mask as an RGB grey picture."""
    return np.repeat(mask[:, :, None], 3, axis=2)


def is_new_frame(frame: np.ndarray, last: np.ndarray | None) -> bool:
    """Whether ``frame`` differs from ``last``: a sparse sample settles it for a camera (its noise
    changes every sample), the whole picture is compared only when the sample is unchanged."""
    if last is None or frame.shape != last.shape:
        return True
    return not np.array_equal(frame[::7, ::5], last[::7, ::5]) or not np.array_equal(frame, last)


class Worker:
    """Owns one thread and one :class:`Pipeline`; everything public is safe from any thread."""

    def __init__(
        self,
        reader: Reader,
        writer: Writer,
        config: WorkerConfig | None = None,
        pipeline_factory: PipelineFactory = Pipeline,
    ) -> None:
        self._reader, self._writer, self._factory = reader, writer, pipeline_factory
        self._lock = threading.Lock()
        self._pending: WorkerConfig | None = config
        self._config: WorkerConfig | None = None
        self._pipeline: Pipeline | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = WorkerStatus()
        self._last_input: np.ndarray | None = None
        self._last_done: float | None = None
        self._repaint = threading.Event()
        self._heights = HeightKeeper()
        self._waited = False  # the next frame had to be waited for
        self._failures: tuple[str, int] = ("", 0)  # (the last failure, how many times in a row)

    # -- control (any thread) ------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return  # running, or a stop that timed out: never two threads on one pipeline
            self._stop.clear()
            self._status = replace(self._status, running=True)
            self._thread = threading.Thread(target=self._run, name=WORKER_THREAD, daemon=True)
            self._thread.start()

    def configure(self, config: WorkerConfig) -> None:
        """Hand over new settings; the thread applies them before its next frame."""
        with self._lock:
            self._pending = config
        self._wake.set()

    def repaint(self) -> None:
        """Paint the whole next frame anew (a hotkey, or after a lighting change the mask kept)."""
        self._repaint.set()
        self._last_input = None  # a still picture is processed again too
        self._wake.set()

    def report_problem(self, problem: str) -> None:
        """Let the host show a settings problem it found before a config could be built."""
        self._set_status(problem=problem)

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop and join; False if the thread did not finish in time (it is a daemon thread)."""
        thread = self._thread
        if thread is None:
            return True
        self._stop.set()
        self._wake.set()
        thread.join(timeout)
        if thread.is_alive():
            log.error("worker did not stop within %.1f s", timeout)
            return False
        self._thread = None
        self._set_status(running=False)
        return True

    @property
    def status(self) -> WorkerStatus:
        with self._lock:
            return self._status

    @property
    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the thread ----------------------------------------------------------------------

    def _set_status(self, **changes: Any) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)

    def _take_pending(self) -> WorkerConfig | None:
        with self._lock:
            pending, self._pending = self._pending, None
        return pending

    def _apply(self, config: WorkerConfig) -> None:
        """Build or reconfigure the pipeline; on failure the last good one keeps running."""
        self._last_input = None  # a still picture must show the new settings too
        try:
            if self._pipeline is None:
                self._pipeline = self._factory(config.pipeline)
            else:
                self._pipeline.configure(config.pipeline)
                if self._config is not None and config.source != self._config.source:
                    self._pipeline.forget_source_rate()
            self._config = config
            self._set_status(problem="", notice=self._pipeline.choice.notice, device=self._pipeline.description)
        except FdstyleError as exc:
            if self._config is not None:
                self._config = replace(config, pipeline=self._config.pipeline)
            log.warning("settings not applied: %s", exc)
            kept = " (the previous style keeps running)" if self._pipeline is not None else ""
            self._set_status(problem=f"{exc}{kept}")
        except Exception as exc:
            if config.pipeline.device == "cpu" or available_devices() == ["cpu"]:
                log.exception("cannot start the pipeline")
                self._set_status(problem=f"cannot start: {exc}")
                return
            log.warning("device %s failed (%s); falling back to the CPU", config.pipeline.device, exc)
            self._apply(replace(config, pipeline=replace(config.pipeline, device="cpu")))
            self._set_status(notice=f"GPU failed ({type(exc).__name__}), running on CPU")

    def _handle_gpu_failure(self, exc: BaseException, frame_height: int) -> None:
        """Out of memory first paints at half the height (down to OOM_MIN_HEIGHT); else the CPU."""
        assert self._config is not None and self._pipeline is not None
        painted = self._pipeline.painter.processing_height or frame_height
        if is_out_of_memory(exc) and painted // 2 >= OOM_MIN_HEIGHT:
            height = painted // 2
            log.warning("GPU out of memory at %d rows; painting at %d rows", painted, height)
            self._pipeline = None
            self._apply(replace(self._config, pipeline=replace(self._config.pipeline, processing_height=height)))
            self._set_status(notice=f"GPU out of memory: painting at ≤ {height} px high")
            return
        self._fall_back_to_cpu(exc)

    def _fall_back_to_cpu(self, exc: BaseException) -> None:
        assert self._config is not None
        log.warning("GPU failed while processing (%s); switching to the CPU", exc)
        self._pipeline = None
        self._apply(replace(self._config, pipeline=replace(self._config.pipeline, device="cpu")))
        self._set_status(notice=f"GPU failed ({type(exc).__name__}), running on CPU")

    def _process(self, frame: np.ndarray, config: WorkerConfig) -> np.ndarray:
        if not config.enabled or self._pipeline is None:
            return frame
        output = self._pipeline.process(frame)
        if config.show_mask:
            mask = self._pipeline.mask_image()
            return mask_as_frame(mask) if mask is not None else np.zeros_like(output)
        return output

    def _run(self) -> None:
        next_read = 0.0
        while not self._stop.is_set():
            pending = self._take_pending()
            if pending is not None:
                self._apply(pending)  # may be slow (a GPU starting): stop may have come meanwhile
                if self._stop.is_set():
                    break
            config = self._config
            if config is None:
                self._wake.wait(IDLE_S * 5)
                self._wake.clear()
                continue
            delay = next_read - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
                continue
            next_read = time.monotonic() + 1.0 / max(config.max_fps, 1.0)
            started = time.perf_counter()
            try:
                frame = self._reader()
            except Exception as exc:
                self._report_failure("reading failed", exc)
                self._stop.wait(IDLE_S * 5)
                continue
            if frame is None or not is_new_frame(frame, self._last_input):
                self._waited = self._waited or frame is not None
                continue  # no new picture: try again at the next tick
            self._last_input = frame
            if self._repaint.is_set() and self._pipeline is not None:
                self._repaint.clear()
                self._pipeline.reset()
            try:
                output = self._process(frame, config)
                if self._stop.is_set():
                    break  # unloading: the outputs have been cleared, do not put a stale frame back
                self._writer(output)
            except Exception as exc:
                if is_gpu_failure(exc, self._pipeline):
                    self._handle_gpu_failure(exc, frame.shape[0])
                    continue
                self._report_failure("a frame failed", exc)
                continue
            self._record_timing(started)
            self._keep_frame_rate(config, started)

    def _keep_frame_rate(self, config: WorkerConfig, read_at: float) -> None:
        """Automatic height only: judge the frames painted at its height (see :class:`HeightKeeper`)."""
        pipeline, waited, self._waited = self._pipeline, self._waited, False
        if pipeline is None or not config.enabled:
            self._heights.reset()  # frames passed through say nothing of painting
            return
        self._heights.frame_done(pipeline, read_at, waited)
        if pipeline.auto_height is not None and self.status.device != pipeline.description:
            self._set_status(device=pipeline.description)

    def _report_failure(self, what: str, exc: Exception) -> None:
        """Log a failure with its traceback once, then count repeats of it (a broken camera or
        driver must not write a traceback a frame into OBS's log); the status shows the count."""
        key = f"{what}: {type(exc).__name__}: {exc}"
        last, count = self._failures
        count = count + 1 if key == last else 1
        if count == 1:
            log.error("%s; continuing with the next frame", what, exc_info=exc)
        elif count % REPEAT_LOG_EVERY == 0:
            log.warning("%s %d times in a row: %s", what, count, exc)
        self._failures = (key, count)
        self._set_status(problem=key if count == 1 else f"{key} ({count}× in a row)")

    def _record_timing(self, started: float) -> None:
        failure, count = self._failures
        if count > 1:
            log.info("%s: stopped after %d times in a row", failure, count)
        self._failures = ("", 0)
        now = time.perf_counter()
        latency = (now - started) * 1000
        with self._lock:
            status = self._status
            last, self._last_done = self._last_done, now
            fps = status.fps
            if last is not None and now > last:  # smooth the interval, not its inverse: a 15 fps camera
                interval = now - last  # read at 30 fps gives 33 and 100 ms intervals, whose 1/x average 20
                fps = 1.0 / (interval if not fps else 1.0 / fps + SMOOTHING * (interval - 1.0 / fps))
            smoothed = latency if not status.latency_ms else status.latency_ms + SMOOTHING * (latency - status.latency_ms)
            problem = "" if status.problem.startswith(("a frame failed", "reading failed")) else status.problem
            self._status = replace(status, fps=fps, latency_ms=smoothed, problem=problem, frames=status.frames + 1)
