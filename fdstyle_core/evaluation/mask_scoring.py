"""Foreground masks to score against ground truth: each mode's own mask, and OpenCV's subtractors.

Masks here are boolean ``H×W`` arrays with True = foreground (moving), the CDnet convention; a
stabilizer's mask is the opposite (1 = background kept), so :func:`mode_foreground` flips it.
"""

from __future__ import annotations

from typing import Container, Iterable, Iterator

import cv2
import numpy as np
import torch

from fdstyle_core.stabilizers import make_stabilizer
from fdstyle_core.stabilizers.base import MaskParams, grey

SUBTRACTORS = ("mog2", "knn")
# OpenCV marks shadows with this value when shadow detection is on; CDnet counts shadow as background.
SUBTRACTOR_FOREGROUND = 255


def subtractor(kind: str) -> cv2.BackgroundSubtractor:
    """MOG2 with history 500 and varThreshold 16 (its defaults, as the evaluation notes ask), or KNN defaults."""
    if kind == "mog2":
        return cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=16)
    if kind == "knn":
        return cv2.createBackgroundSubtractorKNN()
    raise ValueError(f"unknown background subtractor {kind}")


def subtractor_foreground(kind: str, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Feed every frame in order (the model learns from history) and yield each foreground mask."""
    model = subtractor(kind)
    for frame in frames:
        yield model.apply(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)) == SUBTRACTOR_FOREGROUND


def grey_differences(previous: list[np.ndarray], current: list[np.ndarray]) -> np.ndarray:
    """|F_t − F_{t−1}| for each pair with the stabilizer's own grey, as an N×H×W float32 array."""
    with torch.inference_mode():
        return (grey(_batch(current)) - grey(_batch(previous))).abs()[:, 0].numpy()


def paper_foreground(differences: np.ndarray, params: MaskParams) -> np.ndarray:
    """The paper's mask (steps 4–5) with OpenCV morphology, as foreground: the parameter sweep's fast path.

    OpenCV's van Herk filters cost the same for any kernel, where the stabilizer's torch max
    filter grows with its area; both ignore pixels outside the image, so they agree bit for bit
    (tests check it against :func:`fdstyle_core.stabilizers.paper.paper_mask`).
    """
    foreground = np.empty(differences.shape, bool)
    for index, difference in enumerate(differences):
        background = (difference <= params.threshold).astype(np.uint8)
        if params.dilate_iters and params.dilate_kernel > 1:
            kernel = np.ones((params.dilate_kernel,) * 2, np.uint8)
            background = cv2.dilate(background, kernel, iterations=params.dilate_iters)
        if params.erode_iters and params.erode_kernel > 1:
            kernel = np.ones((params.erode_kernel,) * 2, np.uint8)
            background = cv2.erode(background, kernel, iterations=params.erode_iters)
        foreground[index] = background == 0
    return foreground


def _batch(frames: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float()


def _stand_in_paint(frame: torch.Tensor) -> torch.Tensor:
    """What the stabilizer gets instead of the network: no mode's mask depends on the paint."""
    return frame[:, :3]


def sequential_foreground(
    mode: str, params: MaskParams, frames: Iterable[tuple[int, np.ndarray]], wanted: Container[int]
) -> Iterator[tuple[int, np.ndarray, float]]:
    """Run ``mode``'s stabilizer over consecutive frames as it runs live; yield its repainted region.

    Stateful masks (the `reference` mode's per-pixel reference, an automatic threshold) depend
    on the whole history, so frame pairs cannot score them.  For each ``(index, frame)`` in
    ``wanted`` yields ``(index, foreground, T)``: foreground = where the mode takes new paint
    (mask < 0.5; everything when it has no mask) and T the threshold it used.
    """
    stabilizer = make_stabilizer(mode, params)
    with torch.inference_mode():
        for index, frame in frames:
            result = stabilizer.step(_batch([frame]), _stand_in_paint)
            if index in wanted:
                if result.mask is None:
                    foreground = np.ones(frame.shape[:2], bool)
                else:
                    foreground = (result.mask[0, 0] < 0.5).numpy()
                yield index, foreground, float(getattr(stabilizer, "threshold", params.threshold))
