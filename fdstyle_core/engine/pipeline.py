"""The frame pipeline: uint8 numpy frame in, stylized and stabilized uint8 numpy frame out.

It owns the network, the stabilizer's state and the device.  State resets whenever the frame
size, the style, the device or the mode changes, so a stale previous output never leaks into a
new configuration.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fdstyle_core.engine.devices import PRECISION_CHOICES, device_label, precision_name, resolve_device, synchronize
from fdstyle_core.engine.precision import choose_precision
from fdstyle_core.errors import FdstyleError
from fdstyle_core.engine.network import TransformerNet
from fdstyle_core.engine.finish import FinishedPainter
from fdstyle_core.engine.painter import Painter
from fdstyle_core.stabilizers import DEFAULT_MODE, MODES, MaskParams, Stabilizer, StepResult, make_stabilizer
from fdstyle_core.stabilizers.perframe import PerFrame
from fdstyle_core.engine.styles import load_network, resolve_style

# processing_height values: 0 paints at the frame's own size; AUTO at a height the device keeps
# live: at most AUTO_HEIGHTS[device type], the frame's own size on a CUDA GPU.  Measured on a
# 2-core CPU: 640×360 takes about 1 s a frame, 1920×1080 about 17 s.
FULL_SIZE = 0
AUTO_HEIGHT = -1
AUTO_HEIGHTS = {"cpu": 360, "mps": 720}


@dataclass(frozen=True)
class PipelineConfig:
    style: str
    mode: str = DEFAULT_MODE
    mask: MaskParams = field(default_factory=MaskParams)
    device: str = "auto"
    precision: str = "auto"
    processing_height: int = FULL_SIZE  # or a height to paint at (at most), or AUTO_HEIGHT
    strength: float = 1.0  # 0 = the camera, 1 = the painting
    keep_colours: bool = False  # the painting's luminance with the camera's colours

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise FdstyleError(f"unknown mode '{self.mode}' (choose from {', '.join(MODES)})")
        if self.precision not in PRECISION_CHOICES:
            raise FdstyleError(f"unknown precision '{self.precision}' (choose from {', '.join(PRECISION_CHOICES)})")
        if not 0 <= self.strength <= 1:  # also refuses nan
            raise FdstyleError(f"strength must be between 0 and 1 (0–100 %), got {self.strength}")
        if self.processing_height < AUTO_HEIGHT:
            raise FdstyleError(f"processing height must be ≥ 0 (or auto), got {self.processing_height}")


def auto_height_rule() -> str:
    """What AUTO_HEIGHT means, in words, for help texts and the OBS list."""
    return ", ".join(f"{height} on {kind.upper()}" for kind, height in AUTO_HEIGHTS.items()) + ", full size on CUDA"


def painting_height(processing_height: int, device: torch.device) -> int:
    """The height the painter is given (0 = the frame's size), with AUTO_HEIGHT resolved for ``device``."""
    if processing_height == AUTO_HEIGHT:
        return AUTO_HEIGHTS.get(device.type, FULL_SIZE)
    return processing_height



def as_rgb_frame(frame: np.ndarray) -> np.ndarray:
    """Accept H×W grey, H×W×1, RGB or RGBA uint8; anything else is a clear error."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise FdstyleError("frames must be uint8 numpy arrays")
    if frame.ndim == 2:
        frame = frame[:, :, None]
    if frame.ndim != 3 or frame.shape[2] not in (1, 3, 4) or frame.shape[0] < 1 or frame.shape[1] < 1:
        raise FdstyleError(f"unsupported frame shape {frame.shape}: expected H×W, H×W×3 or H×W×4")
    if frame.shape[2] == 1:
        frame = np.repeat(frame, 3, axis=2)
    return np.ascontiguousarray(frame)  # views such as bgr[..., ::-1] cannot become tensors



class Pipeline:
    """Stylizes and stabilizes frames; call :meth:`configure` to change settings live."""

    def __init__(self, config: PipelineConfig) -> None:
        self.config: PipelineConfig | None = None
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self.precision_reason = ""
        self.style_path: Path | None = None
        self._net: TransformerNet | None = None
        self._stabilizer: Stabilizer = PerFrame()
        self.painter: Painter  # made by configure
        self._frame_shape: tuple[int, int] | None = None
        self.last_result: StepResult | None = None
        self.timings: dict[str, float] = {}
        self.configure(config)

    # -- configuration -------------------------------------------------------------------

    def configure(self, config: PipelineConfig) -> None:
        """Apply new settings; on a bad style or device the previous setup keeps running and this raises."""
        old = self.config
        device = resolve_device(config.device)
        style_path = resolve_style(config.style)
        new_style = old is None or style_path != self.style_path
        moved = new_style or device != self.device or old is None or config.precision != old.precision
        if moved:
            # Loaded afresh: exact fp32 weights (not the running fp16 ones), and the running network
            # stays untouched if the device or the fp16 check fails.
            net = load_network(style_path)
            net = net.to(device=device, dtype=torch.float32)
            choice = choose_precision(net, device, config.precision)
            self._net, self.dtype, self.precision_reason = net.to(dtype=choice.dtype), choice.dtype, choice.reason
        restart = (
            old is None
            or new_style
            or device != self.device
            or config.mode != old.mode
            or (config.strength, config.keep_colours) != (old.strength, old.keep_colours)
            or painting_height(config.processing_height, device) != self.painter.processing_height
        )
        self.device, self.style_path, self.config = device, style_path, config
        if moved or restart:  # a mask-only change keeps the painter and its normalization statistics
            assert self._net is not None
            self.painter = Painter(self._net, self.dtype, device, painting_height(config.processing_height, device))
        if restart or old is None:
            self._stabilizer = make_stabilizer(config.mode, config.mask)
            self.reset()
        elif config.mask != old.mask:
            self._stabilizer.retune(config.mask)  # applies from the next frame, picture kept

    def reset(self) -> None:
        self._stabilizer.reset()
        self.last_result = None

    @property
    def description(self) -> str:
        precision = precision_name(self.dtype)
        height = self.painter.processing_height
        return f"{device_label(self.device)} {precision}" + (f", paints at ≤ {height} px high" if height else "")

    # -- per frame -----------------------------------------------------------------------

    def process(self, frame: np.ndarray) -> np.ndarray:
        """One frame through upload, network, stabilizer and download; same shape and dtype out."""
        frame = as_rgb_frame(frame)
        config = self.config
        assert config is not None
        shape = frame.shape[:2]
        if shape != self._frame_shape:
            self._frame_shape = shape
            self.reset()
        t0 = time.perf_counter()
        with torch.inference_mode():
            x = torch.from_numpy(frame).to(self.device).permute(2, 0, 1)[None].float()
            synchronize(self.device)
            t1 = time.perf_counter()
            self.painter.network_ms = 0.0
            paint = self.painter
            if config.strength < 1 or config.keep_colours:
                paint = FinishedPainter(self.painter, config.strength, config.keep_colours)
            result = self._stabilizer.step(x, paint)
            synchronize(self.device)
            t2 = time.perf_counter()
            out = result.output.clamp(0, 255).round().to(torch.uint8)[0].permute(1, 2, 0).cpu().numpy()
        t3 = time.perf_counter()
        self.last_result = result
        network = self.painter.network_ms
        self.timings.update(
            upload=(t1 - t0) * 1000,
            network=network,
            stabilize=(t2 - t1) * 1000 - network,
            download=(t3 - t2) * 1000,
            total=(t3 - t0) * 1000,
        )
        if frame.shape[2] == 4:
            out = np.concatenate([out, frame[:, :, 3:]], axis=2)
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
