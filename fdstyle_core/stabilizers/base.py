"""What every stabilizer shares: the mask options, the step result, grey levels, morphology, the noise threshold.

Stabilizers decide, per pixel, whether to keep the previous output or take new paint.

All tensors are ``N×C×H×W`` float32 on the pipeline's device, colour values 0–255.
Masks are ``N×1×H×W`` with 1.0 = background (keep the previous output) and 0.0 = foreground.

Morphology border rule: pixels outside the image are ignored (dilation pads with −∞, erosion
with +∞).  That is OpenCV's default for ``cv2.dilate``/``cv2.erode``, so the mask equals the
OpenCV computation bit for bit.  Kernels are square with odd sides so the anchor is the centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Protocol

import torch
from torch.nn import functional as F

from fdstyle_core.errors import FdstyleError
from fdstyle_core.stabilizers import cpu_filters

Stylize = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class MaskParams:
    """The paper's knobs: threshold T in grey levels, then closing of the background mask."""

    # Defaults chosen with `eval` and `eval-mask` on the shared clips (docs/results.md): they
    # meet the follow / flicker / staleness targets on talking heads with margin, and more than
    # double the mask F-measure of the paper's T=12-like settings on CDnet.
    threshold: float = 16.0
    dilate_iters: int = 2
    dilate_kernel: int = 3
    erode_iters: int = 3
    erode_kernel: int = 5
    # Beyond the paper (used by the `reference` mode; `auto_threshold` also by `paper`):
    auto_threshold: bool = False  # estimate T from the camera's noise instead of `threshold`
    feather: int = 4  # px of soft blend outside the refreshed region (0 = hard seam)
    refresh_fraction: float = 0.5  # changed share of the frame that triggers a whole-frame refresh
    crossfade_frames: int = 0  # frames of cross-fade on a whole-frame refresh (0 = cut)
    skip_work: bool = True  # no network call without motion; paint only the moving region

    def __post_init__(self) -> None:
        for name in ("dilate_kernel", "erode_kernel"):
            k = getattr(self, name)
            if k < 1 or k % 2 == 0:
                raise FdstyleError(f"{name.replace('_', ' ')} must be an odd number ≥ 1, got {k}")
        for name in ("dilate_iters", "erode_iters"):
            if getattr(self, name) < 0:
                raise FdstyleError(f"{name.replace('_', ' ')} must be ≥ 0, got {getattr(self, name)}")
        if not 0 <= self.threshold < math.inf:  # also refuses nan
            raise FdstyleError(f"threshold must be a number ≥ 0 grey levels, got {self.threshold}")
        if self.feather < 0 or self.crossfade_frames < 0:
            raise FdstyleError("feather and cross-fade frames must be ≥ 0")
        if not 0 < self.refresh_fraction <= 1:
            raise FdstyleError(f"refresh fraction must be in (0, 1], got {self.refresh_fraction}")


@dataclass
class StepResult:
    output: torch.Tensor
    mask: torch.Tensor | None  # 1 = kept from the previous output
    stylized: bool  # whether the network ran for this frame


def grey(frame: torch.Tensor) -> torch.Tensor:
    """The paper's grey level: the plain mean of R, G and B (not luma weights).

    Summed plane by plane: the same value as ``mean(dim=1)``, without its strided reduction.
    """
    return (frame[:, 0:1] + frame[:, 1:2] + frame[:, 2:3]) / 3


def _square_max(mask: torch.Tensor, side: int) -> torch.Tensor:
    """Max over a side² square as a row pass then a column pass (same result, O(side) not O(side²))."""
    rows = F.max_pool2d(mask, kernel_size=(1, side), stride=1, padding=(0, side // 2))
    return F.max_pool2d(rows, kernel_size=(side, 1), stride=1, padding=(side // 2, 0))


def dilate(mask: torch.Tensor, kernel: int, iterations: int) -> torch.Tensor:
    """``iterations`` dilations by a ``kernel``² square, done as one equivalent max filter
    (OpenCV's on a CPU, where it is several times faster than pooling)."""
    if iterations == 0 or kernel == 1:
        return mask
    side = (kernel - 1) * iterations + 1
    return cpu_filters.square_max(mask, side) if mask.device.type == "cpu" else _square_max(mask, side)


def erode(mask: torch.Tensor, kernel: int, iterations: int) -> torch.Tensor:
    if iterations == 0 or kernel == 1:
        return mask
    side = (kernel - 1) * iterations + 1
    return cpu_filters.square_min(mask, side) if mask.device.type == "cpu" else -_square_max(-mask, side)


class NoiseThreshold:
    """Raises T above the configured one when the camera is noisy: T = max(T₀, 4σ), at most 40.

    Most pixels of a video call are static, so the median |ΔF| over the frame measures sensor
    and compression noise, not motion; 1/0.6745 turns a median absolute value into a standard
    deviation.  Smoothed over frames so T does not jump with a single busy frame.  The configured
    T₀ stays the floor: below it, JPEG-clean cameras gain nothing and the `reference` mode would
    repaint every small drift (measured: BF ×6 on cdnet_office at the unfloored T≈6).
    """

    SIGMAS = 4.0
    SMOOTHING = 0.9
    CEILING = 40.0

    def __init__(self) -> None:
        self.sigma: float | None = None

    def update(self, grey_now: torch.Tensor, grey_prev: torch.Tensor, floor: float) -> float:
        diff = (grey_now - grey_prev).abs()[..., ::2, ::2]
        sigma = diff.median().item() / 0.6745
        self.sigma = sigma if self.sigma is None else self.SMOOTHING * self.sigma + (1 - self.SMOOTHING) * sigma
        return max(floor, min(self.CEILING, self.SIGMAS * self.sigma))


class Stabilizer(Protocol):
    def reset(self) -> None: ...

    def retune(self, params: MaskParams) -> None: ...

    def step(self, frame: torch.Tensor, stylize: Stylize) -> StepResult: ...


class ThresholdStabilizer:
    """What the modes that threshold a grey difference share: live retuning and the auto T."""

    def __init__(self, params: MaskParams) -> None:
        self.params = params
        self.reset()

    def retune(self, params: MaskParams) -> None:
        self.params = params

    def reset(self) -> None:
        self._noise = NoiseThreshold()
        self.threshold = self.params.threshold

    def _update_threshold(self, grey_now: torch.Tensor, grey_prev: torch.Tensor) -> float:
        floor = self.params.threshold
        self.threshold = self._noise.update(grey_now, grey_prev, floor) if self.params.auto_threshold else floor
        return self.threshold
