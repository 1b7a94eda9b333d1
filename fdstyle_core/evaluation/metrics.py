"""Temporal-stability metrics on uint8 RGB frames (definitions in the project's evaluation notes).

They take plain numpy frames so that any method's output can be scored the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from fdstyle_core.stabilizers.optical_flow import consistent, dense_flow, warp

# A pixel is "static" when its grey level moved at most this much and no pixel within
# STATIC_MARGIN moved more: compression noise stays below it, real motion does not.
STATIC_DIFF = 6.0
STATIC_MARGIN = 15
# "Moving" pixels, for the follow ratio and fidelity: clearly above noise.
MOVING_DIFF = 20.0


def grey(frame: np.ndarray) -> np.ndarray:
    """The paper's grey level (mean of R, G, B) as float32."""
    return frame[:, :, :3].astype(np.float32).mean(axis=2)


def input_motion(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    return np.abs(grey(cur) - grey(prev))


def static_pixels(prev: np.ndarray, cur: np.ndarray, foreground: np.ndarray | None = None) -> np.ndarray:
    """Pixels static in the input and at least STATIC_MARGIN px from any motion or foreground."""
    busy = input_motion(prev, cur) > STATIC_DIFF
    if foreground is not None:
        busy |= foreground
    side = 2 * STATIC_MARGIN + 1
    near_busy = cv2.dilate(busy.astype(np.uint8), np.ones((side, side), np.uint8)) > 0
    return ~near_busy


def moving_pixels(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    return input_motion(prev, cur) > MOVING_DIFF


def mean_change(prev_out: np.ndarray, cur_out: np.ndarray, where: np.ndarray) -> float | None:
    """Mean |O_t − O_{t−1}| (0–255, over the three channels) on the selected pixels."""
    if not where.any():
        return None
    diff = np.abs(cur_out[:, :, :3].astype(np.float32) - prev_out[:, :, :3].astype(np.float32))
    return float(diff[where].mean())


def _mean_of(values: Sequence[float | None]) -> float:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else float("nan")


def flicker_per_frame(
    inputs: list[np.ndarray], outputs: list[np.ndarray], foreground: list[np.ndarray] | None = None
) -> list[float | None]:
    """Mean output change over input-static pixels for each t ≥ 1 (None where nothing is static).

    ``foreground`` (ground truth or detected, True = foreground) keeps pixels near it out too.
    """
    return [
        mean_change(
            outputs[t - 1],
            outputs[t],
            static_pixels(inputs[t - 1], inputs[t], None if foreground is None else foreground[t - 1] | foreground[t]),
        )
        for t in range(1, len(inputs))
    ]


def background_flicker(
    inputs: list[np.ndarray], outputs: list[np.ndarray], foreground: list[np.ndarray] | None = None
) -> float:
    """BF: mean output change over input-static pixels, averaged over frames."""
    return _mean_of(flicker_per_frame(inputs, outputs, foreground))


def motion_change(inputs: list[np.ndarray], outputs: list[np.ndarray]) -> float:
    """Mean output change where the input clearly moves (a method that freezes scores low)."""
    return _mean_of(
        [mean_change(outputs[t - 1], outputs[t], moving_pixels(inputs[t - 1], inputs[t])) for t in range(1, len(inputs))]
    )


def follow_ratio(inputs: list[np.ndarray], outputs: list[np.ndarray], perframe: list[np.ndarray]) -> float:
    """How much of per-frame stylization's change on moving pixels a method keeps (1 = all, 0 = frozen)."""
    return motion_change(inputs, outputs) / motion_change(inputs, perframe)


# -- E_warp (Lai et al. 2018) ----------------------------------------------------------------


@dataclass
class WarpReference:
    """Flow I_{t−1}→I_t on the inputs and where it is valid: computed once, scored for every method."""

    flow: np.ndarray
    valid: np.ndarray


def warp_references(inputs: list[np.ndarray]) -> list[WarpReference]:
    """One reference per consecutive pair, with the flow method of :mod:`fdstyle_core.stabilizers.flow` (DIS).

    Validity follows Lai et al.'s evaluation code: the forward flow's occlusion and motion-boundary
    test on frame t−1's grid (where the error is summed); samples falling outside the frame are
    also left out, since nothing is known there.
    """
    greys = [np.round(grey(frame)).astype(np.uint8) for frame in inputs]
    references = []
    for prev, cur in zip(greys, greys[1:]):
        forward = dense_flow(prev, cur)
        references.append(WarpReference(forward, consistent(forward, dense_flow(cur, prev))))
    return references


def warp_errors(outputs: list[np.ndarray], references: list[WarpReference]) -> list[float]:
    """e_t = Σ M·(warp(O_t, F_fw) − O_{t−1})² / Σ M over the three channels, values in [0, 1]."""
    errors = []
    for t, reference in enumerate(references, start=1):
        warped, _ = warp(outputs[t][:, :, :3].astype(np.float32) / 255, reference.flow)
        diff = (warped - outputs[t - 1][:, :, :3].astype(np.float32) / 255) ** 2
        count = reference.valid.sum() * 3
        errors.append(float(diff[reference.valid].sum() / count) if count else float("nan"))
    return errors


def warp_error(outputs: list[np.ndarray], references: list[WarpReference]) -> float:
    """E_warp: the mean of e_t over the clip."""
    return _mean_of(warp_errors(outputs, references))


# -- staleness and fidelity --------------------------------------------------------------------


def motion_foreground(inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Detected foreground where no ground truth exists: pixels clearly moving since the last frame."""
    return [np.zeros(inputs[0].shape[:2], bool)] + [moving_pixels(p, c) for p, c in zip(inputs, inputs[1:])]


def uncovered(foreground: list[np.ndarray], t: int, recent: int) -> np.ndarray:
    """Pixels that were foreground in one of the ``recent`` frames before t and are background at t."""
    was = np.logical_or.reduce(foreground[max(0, t - recent) : t]) if t else np.zeros_like(foreground[0])
    return was & ~foreground[t]


def _abs_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a[:, :, :3].astype(np.float32) - b[:, :, :3].astype(np.float32))


@dataclass
class Ghosting:
    error: float  # GE: mean |O_t − S_t| (0–255) on recently uncovered background
    stale: float  # share of those pixels not repainted since they stopped being foreground


def ghosting(
    outputs: list[np.ndarray],
    stylized: list[np.ndarray],
    kept: list[np.ndarray | None],
    foreground: list[np.ndarray],
    recent: int = 10,
) -> Ghosting:
    """Ghost error and stale fraction, pooled over every uncovered pixel of the clip.

    ``kept[t]`` is the method's mask (True = kept from the previous output) or None where it
    updated everything; frame 0 counts as fully painted.  Per pixel we track ``updated`` (the
    last frame whose output there was not kept) and ``was_fg`` (the last frame it was
    foreground).  An uncovered pixel at t (see :func:`uncovered`) is **stale** iff
    ``updated ≤ was_fg``: no repaint happened in (was_fg, t], so it still shows paint from a
    frame when the person covered it.  A pixel repainted after the person left and kept since
    is not stale: keeping correct background paint is the point of the method.
    """
    shape = foreground[0].shape
    updated = np.zeros(shape, np.int64)
    was_fg = np.where(foreground[0], 0, -1)
    total = count = stale = 0.0
    for t in range(1, len(outputs)):
        mask = kept[t]
        if mask is None:
            updated[:] = t
        else:
            updated[~mask] = t
        where = uncovered(foreground, t, recent)
        n = int(where.sum())
        if n:
            total += float(_abs_diff(outputs[t], stylized[t])[where].sum()) / 3
            count += n
            stale += int((where & (updated <= was_fg)).sum())
        was_fg[foreground[t]] = t
    if not count:
        return Ghosting(float("nan"), float("nan"))
    return Ghosting(total / count, stale / count)


def fidelity(inputs: list[np.ndarray], outputs: list[np.ndarray], stylized: list[np.ndarray]) -> float:
    """Mean |O_t − S_t| (0–255) where the input changed: a method must follow motion (lower is better)."""
    return _mean_of(
        [
            float(_abs_diff(outputs[t], stylized[t])[where].mean()) if where.any() else None
            for t in range(1, len(inputs))
            for where in [moving_pixels(inputs[t - 1], inputs[t])]
        ]
    )


# -- seams ---------------------------------------------------------------------------------


def seam_pixels(kept: np.ndarray) -> np.ndarray:
    """Pixels within 1 px of a flip between kept and fresh (both sides of the boundary)."""
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    mask = kept.astype(np.uint8)
    return cv2.dilate(mask, cross) != cv2.erode(mask, cross)


def gradient_energy(image: np.ndarray) -> np.ndarray:
    """|∇I|² per pixel (central differences, summed over the three channels)."""
    values = image[:, :, :3].astype(np.float32)
    dy, dx = np.gradient(values, axis=(0, 1))
    return (dx**2 + dy**2).sum(axis=2)


def seam_visibility(outputs: list[np.ndarray], stylized: list[np.ndarray], kept: list[np.ndarray | None]) -> float:
    """Output gradient energy on the mask boundary over S_t's there (≈ 1: no seam; > 1: visible edge).

    Where old and new paint meet with a hard cut, the output has an edge that the fresh
    stylization does not, so its gradient energy there exceeds S_t's; a feathered blend spreads
    the step and brings the ratio back toward 1.  NaN when no method mask has a boundary.
    """
    output_energy = fresh_energy = 0.0
    for output, fresh, mask in zip(outputs, stylized, kept):
        if mask is None:
            continue
        where = seam_pixels(mask)
        if where.any():
            output_energy += float(gradient_energy(output)[where].sum())
            fresh_energy += float(gradient_energy(fresh)[where].sum())
    return output_energy / fresh_energy if fresh_energy > 0 else float("nan")


# -- CDnet mask accuracy -----------------------------------------------------------------------

CDNET_FOREGROUND = 255
CDNET_BACKGROUND = (0, 50)  # static and shadow
# 85 (outside the region of interest) and 170 (unknown motion) are not counted.


@dataclass
class Counts:
    """Pixel counts summed over a clip, CDnet 2014 style."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: np.ndarray, truth: np.ndarray, roi: np.ndarray | None = None) -> None:
        """Count one frame: ``predicted`` True = foreground; ``truth`` CDnet labels; ``roi`` True = inside."""
        positive = truth == CDNET_FOREGROUND
        negative = np.isin(truth, CDNET_BACKGROUND)
        if roi is not None:
            positive &= roi
            negative &= roi
        self.tp += int((predicted & positive).sum())
        self.fn += int((~predicted & positive).sum())
        self.fp += int((predicted & negative).sum())
        self.tn += int((~predicted & negative).sum())

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def f_measure(self) -> float:
        pr, re = self.precision, self.recall
        return 2 * pr * re / (pr + re) if pr + re > 0 else 0.0

    @property
    def pwc(self) -> float:
        """Percentage of wrong classifications."""
        total = self.tp + self.fp + self.fn + self.tn
        return 100 * (self.fn + self.fp) / total if total else float("nan")

    def summary(self) -> dict[str, float]:
        return {"recall": self.recall, "precision": self.precision, "f": self.f_measure, "pwc": self.pwc}
