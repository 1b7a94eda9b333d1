"""The frame pipeline: uint8 numpy frame in, stylized and stabilized uint8 numpy frame out.

It owns the network, the stabilizer's state and the device.  State resets whenever the frame
size, the style, the device or the mode changes, so a stale previous output never leaks into a
new configuration.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from fdstyle_core.engine.auto_height import HeightChoice, PassTimer, choose_height, larger_height, smaller_height
from fdstyle_core.engine.devices import PRECISION_CHOICES, synchronize
from fdstyle_core.engine.finish import FinishedPainter
from fdstyle_core.engine.painter import PaintWork, Painter
from fdstyle_core.engine.selection import ENGINE_CHOICES, EngineChoice, choose_engine, device_class, host_threads
from fdstyle_core.errors import FdstyleError
from fdstyle_core.stabilizers import DEFAULT_MODE, MODES, REGISTRY, MaskParams, Stabilizer, StepResult, make_stabilizer
from fdstyle_core.stabilizers.perframe import PerFrame
from fdstyle_core.engine.styles import load_network, resolve_style, variant_for

# processing_height values: 0 paints at the frame's own size; AUTO at the largest height that
# this machine paints at the target frame rate, measured (see engine.auto_height).
FULL_SIZE = 0
AUTO_HEIGHT = -1
# Of the frame period, what the network may take; the stabilizer and the frame's way in and out
# need the rest.
NETWORK_SHARE = 0.8
# Engines kept built per style and settings, so that switching styles back and forth is instant.
MAX_CACHED_ENGINES = 4
# Automatic aims at a source's own frame rate only when it is this much below the current aim
# (a 29.97 fps camera is a 30 fps one), and never below the floor (a paused source is not slow);
# and back at the target only when frames come this much faster than the source followed.
SOURCE_RATE_MARGIN = 0.85
MIN_SOURCE_FPS = 10.0


@dataclass(frozen=True)
class PipelineConfig:
    style: str
    mode: str = DEFAULT_MODE
    mask: MaskParams = field(default_factory=MaskParams)
    device: str = "auto"
    engine: str = "auto"
    precision: str = "auto"
    threads: int = 0  # CPU threads for the network; 0 = the engine's own choice (all cores)
    target_fps: float = 30.0  # what Automatic height paints fast enough for
    processing_height: int = FULL_SIZE  # or a height to paint at (at most), or AUTO_HEIGHT
    strength: float = 1.0  # 0 = the camera, 1 = the painting
    keep_colours: bool = False  # the painting's luminance with the camera's colours

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise FdstyleError(f"unknown mode '{self.mode}' (choose from {', '.join(MODES)})")
        if self.engine not in ENGINE_CHOICES:
            raise FdstyleError(f"unknown engine '{self.engine}' (choose from {', '.join(ENGINE_CHOICES)})")
        if self.threads < 0:
            raise FdstyleError(f"threads must be ≥ 0 (0 = all cores), got {self.threads}")
        if self.precision not in PRECISION_CHOICES:
            raise FdstyleError(f"unknown precision '{self.precision}' (choose from {', '.join(PRECISION_CHOICES)})")
        if not 0 <= self.strength <= 1:  # also refuses nan
            raise FdstyleError(f"strength must be between 0 and 1 (0–100 %), got {self.strength}")
        if not self.target_fps > 0:
            raise FdstyleError(f"target fps must be above 0, got {self.target_fps}")
        if self.processing_height < AUTO_HEIGHT:
            raise FdstyleError(f"processing height must be ≥ 0 (or auto), got {self.processing_height}")


AUTO_HEIGHT_RULE = "the largest height this machine paints at the target fps, measured"



def as_rgb_frame(frame: np.ndarray) -> np.ndarray:
    """Accept H×W grey, H×W×1, RGB or RGBA uint8 (the alpha is dropped); anything else is a clear error."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise FdstyleError("frames must be uint8 numpy arrays")
    if frame.ndim == 2:
        frame = frame[:, :, None]
    if frame.ndim != 3 or frame.shape[2] not in (1, 3, 4) or frame.shape[0] < 1 or frame.shape[1] < 1:
        raise FdstyleError(f"unsupported frame shape {frame.shape}: expected H×W, H×W×3 or H×W×4")
    if frame.shape[2] == 1:
        return np.repeat(frame, 3, axis=2)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_RGBA2RGB)
    return np.ascontiguousarray(frame)  # views such as bgr[..., ::-1] cannot become tensors


def to_frame(output: torch.Tensor) -> np.ndarray:
    """The first N×3×H×W float output as an H×W×3 uint8 frame: rounded on the device, one copy to
    the host, interleaved by OpenCV (several times faster than a strided torch copy)."""
    planes = output[0].clamp(0, 255).round().to(torch.uint8).cpu().numpy()
    return cv2.merge(list(planes))


class Pipeline:
    """Stylizes and stabilizes frames; call :meth:`configure` to change settings live.

    A ``timed`` pipeline (bench, eval) waits for the device between stages, so each stage's time
    in :attr:`timings` is its own; live use leaves a GPU free to run ahead.  Full passes record
    the instance-norm statistics only for a mode that paints regions, or when asked to
    (``statistics``: eval reuses them).
    """

    def __init__(self, config: PipelineConfig, timed: bool = False, statistics: bool = False) -> None:
        self.timed = timed
        self.statistics = statistics
        self.config: PipelineConfig | None = None
        self.choice: EngineChoice  # made by configure
        self.style_path: Path | None = None
        self._engines: OrderedDict[tuple, EngineChoice] = OrderedDict()
        self._stabilizer: Stabilizer = PerFrame()
        self.painter: Painter  # made by configure
        self._frame_shape: tuple[int, int] | None = None
        self.auto_height: HeightChoice | None = None  # what Automatic paints at now, for this frame size
        self.aimed_fps = config.target_fps  # what Automatic keeps: the target, or a slower source's rate
        self._ceiling: HeightChoice | None = None  # the most Automatic climbs to: measured for the aimed fps
        self.last_result: StepResult | None = None
        self.timings: dict[str, float] = {}
        self.last_work = PaintWork()  # the network work of the last frame
        self.configure(config)

    # -- configuration -------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return self.choice.engine.device

    def _engine_for(self, config: PipelineConfig, style_path: Path) -> EngineChoice:
        """The engine for this style and these settings, built from the file's fp32 weights, or
        the one built before (so switching styles back and forth compiles nothing)."""
        key = (style_path, style_path.stat().st_mtime_ns, config.device, config.engine, config.precision, config.threads)
        if key in self._engines:
            self._engines.move_to_end(key)
            return self._engines[key]
        if config.threads:
            torch.set_num_threads(config.threads)
        choice = choose_engine(load_network(style_path), config.device, config.engine, config.precision, config.threads)
        self._engines[key] = choice
        if len(self._engines) > MAX_CACHED_ENGINES:
            self._engines.popitem(last=False)
        return choice

    def configure(self, config: PipelineConfig) -> None:
        """Apply new settings; on a bad style or device the previous setup keeps running and this raises."""
        old = self.config
        style_path = resolve_style(variant_for(config.style, device_class(config.device, config.engine)))
        choice = self._engine_for(config, style_path)
        restart = (
            old is None
            or choice is not self.choice
            or config.mode != old.mode
            or (config.strength, config.keep_colours) != (old.strength, old.keep_colours)
            or (config.processing_height, config.target_fps) != (old.processing_height, old.target_fps)
        )
        self.choice, self.style_path, self.config = choice, style_path, config
        torch.set_num_threads(host_threads(choice.engine, config.threads))
        if restart:  # a mask-only change keeps the painter and its normalization statistics
            self.auto_height = self._ceiling = None
            self.aimed_fps = config.target_fps
            self.painter = self._new_painter(max(config.processing_height, FULL_SIZE))
            self._stabilizer = make_stabilizer(config.mode, config.mask)
            self._frame_shape = None  # Automatic measures again at the next frame
            self.reset()
        elif config.mask != old.mask:
            self._stabilizer.retune(config.mask)  # applies from the next frame, picture kept

    def reset(self) -> None:
        self._stabilizer.reset()
        self.last_result = None

    def _new_painter(self, processing_height: int) -> Painter:
        return Painter(self.choice.engine, processing_height, self.timed, self._records_statistics)

    @property
    def _records_statistics(self) -> bool:
        assert self.config is not None
        return self.statistics or REGISTRY[self.config.mode].paints_regions

    def _choose_auto_height(self, height: int, width: int) -> None:
        """Time the network on this machine and paint at the largest height that keeps the target fps."""
        config = self.config
        assert config is not None
        self.auto_height = self._ceiling = self._measure_height(height, width)
        self.painter = self._new_painter(self.auto_height.height)

    def _measure_height(self, height: int, width: int, painting: int | None = None) -> HeightChoice:
        """The largest height whose full pass fits the aimed frame period's budget, timed on this
        machine; what was compiled only to be timed is freed, but for the chosen height and ``painting``."""
        config = self.config
        assert config is not None
        budget = 1000 / self.aimed_fps * NETWORK_SHARE / REGISTRY[config.mode].painted_share(config.mask)
        timer = PassTimer(self.choice.engine, (height, width), self._records_statistics)
        choice = choose_height(height, budget, timer)
        timer.release(keep={h for h in (choice.height, painting) if h is not None})
        return choice

    def lower_height(self, frame_ms: float) -> bool:
        """Automatic only: step down one height after frames took too long; False at the smallest."""
        if self.auto_height is None:
            return False
        return self._step_to(smaller_height(self.auto_height.height), f"stepped down, {frame_ms:.0f} ms a frame was too slow")

    @property
    def taller_height(self) -> int | None:
        """Automatic only: the height one step up, or None.  Never above what was measured to fit
        the aimed fps: a still scene in `reference` paints nothing, and its fast frames say little."""
        if self.auto_height is None or self._ceiling is None:
            return None
        return larger_height(self.auto_height.height, self._ceiling.height)

    def raise_height(self, frame_ms: float) -> bool:
        """Automatic only: step up one height once frames have room, so a busy minute does not
        leave the painting coarse for good, and a slow camera is painted taller."""
        return self._step_to(self.taller_height, f"stepped up, {frame_ms:.0f} ms a frame left room")

    def aim_at_source_rate(self, source_fps: float) -> bool:
        """Automatic only: keep a source's own frame rate when it delivers fewer frames than the
        aimed fps (a 15 fps camera leaves twice the time to paint taller), and measure how tall that
        allows; False when unchanged, and below :data:`MIN_SOURCE_FPS` (a stalled source, not a slow one)."""
        if self.auto_height is None or self._frame_shape is None:
            return False
        if not MIN_SOURCE_FPS <= source_fps <= SOURCE_RATE_MARGIN * self.aimed_fps:
            return False
        return self._aim_at(source_fps)

    def aim_at_target(self, painted_fps: float) -> bool:
        """Automatic only: aim at the target fps again once frames are painted clearly faster than
        the slower source followed, which it cannot deliver unless it sped up (a camera does when
        the lights go on), and measure how tall the target allows; False otherwise."""
        if not self.follows_source or self.auto_height is None or self._frame_shape is None:
            return False
        if painted_fps * SOURCE_RATE_MARGIN < self.aimed_fps:
            return False
        assert self.config is not None
        return self._aim_at(self.config.target_fps)

    def _aim_at(self, fps: float) -> bool:
        """Keep ``fps`` from now on, and measure the height it allows (the most Automatic climbs to)."""
        assert self._frame_shape is not None and self.auto_height is not None
        self.aimed_fps = fps
        self._ceiling = self._measure_height(*self._frame_shape, painting=self.auto_height.height)
        return True

    @property
    def follows_source(self) -> bool:
        """Whether Automatic aims at a source slower than the target fps."""
        return self.config is not None and self.aimed_fps < self.config.target_fps

    def forget_source_rate(self) -> None:
        """Another source is read: aim at the target fps again, and measure afresh at its first frame."""
        assert self.config is not None
        if self.config.processing_height == AUTO_HEIGHT:
            self._frame_shape = None

    def _step_to(self, height: int | None, why: str) -> bool:
        if height is None:
            return False
        self.auto_height = HeightChoice(height, f"{height} rows: {why}")
        self.painter = self._new_painter(height)
        self.reset()
        return True

    @property
    def description(self) -> str:
        if self.auto_height is not None:
            source = f" (the source's {self.aimed_fps:.0f} fps)" if self.follows_source else ""
            return f"{self.choice.engine.label}, Automatic{source}: {self.auto_height.reason}"
        height = self.painter.processing_height
        return self.choice.engine.label + (f", paints at ≤ {height} px high" if height else "")

    # -- per frame -----------------------------------------------------------------------

    def process(self, frame: np.ndarray) -> np.ndarray:
        """One frame through upload, network, stabilizer and download; same shape and dtype out."""
        frame = as_rgb_frame(frame)
        config = self.config
        assert config is not None
        shape = frame.shape[:2]
        if shape != self._frame_shape:
            self._frame_shape = shape
            if config.processing_height == AUTO_HEIGHT:
                self.aimed_fps = config.target_fps  # another camera: its rate is not known yet
                self._choose_auto_height(*shape)
            self.reset()
        t0 = time.perf_counter()
        with torch.inference_mode():
            x = torch.from_numpy(frame).to(self.device).permute(2, 0, 1)[None].float()
            if self.timed:
                synchronize(self.device)
            t1 = time.perf_counter()
            paint = self.painter
            if config.strength < 1 or config.keep_colours:
                paint = FinishedPainter(self.painter, config.strength, config.keep_colours)
            result = self._stabilizer.step(x, paint)
            if self.timed:
                synchronize(self.device)
            t2 = time.perf_counter()
            out = to_frame(result.output)
        t3 = time.perf_counter()
        self.last_result, self.last_work = result, self.painter.take_work()
        network = self.last_work.network_ms
        self.timings.update(
            upload=(t1 - t0) * 1000,
            network=network,
            stabilize=(t2 - t1) * 1000 - network,
            download=(t3 - t2) * 1000,
            total=(t3 - t0) * 1000,
        )
        return out

    def mask_image(self) -> np.ndarray | None:
        """The last mask as H×W uint8 (255 = kept from the previous output), for display."""
        if self.last_result is None or self.last_result.mask is None:
            return None
        return (self.last_result.mask[0, 0] * 255).round().to(torch.uint8).cpu().numpy()



def stylize_video(source: str, output: str | Path, config: PipelineConfig) -> int:
    """Stylize a video, an image, a frame folder or a camera index into ``output``; returns the frame count.

    The small library counterpart of ``python -m fdstyle_core stylize``.
    """
    from fdstyle_core.io.video import FrameSink, open_source

    pipeline = Pipeline(config)
    frames = open_source(source)
    try:
        sink = FrameSink(Path(output), getattr(frames, "fps", 30.0))
        try:
            for frame in frames.frames():
                sink.write(pipeline.process(frame))
        except BaseException:
            sink.discard()
            raise
        sink.commit()
        return sink.count
    finally:
        frames.close()
