"""Temporal-stability metrics on uint8 RGB frames (definitions in the project's evaluation notes).

They take plain numpy frames so that any method's output can be scored the same way.
"""

from __future__ import annotations

import cv2
import numpy as np

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


def _mean_of(values: list[float | None]) -> float:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else float("nan")


def background_flicker(inputs: list[np.ndarray], outputs: list[np.ndarray]) -> float:
    """BF: mean output change over input-static pixels, averaged over frames."""
    return _mean_of(
        [mean_change(outputs[t - 1], outputs[t], static_pixels(inputs[t - 1], inputs[t])) for t in range(1, len(inputs))]
    )


def motion_change(inputs: list[np.ndarray], outputs: list[np.ndarray]) -> float:
    """Mean output change where the input clearly moves (a method that freezes scores low)."""
    return _mean_of(
        [mean_change(outputs[t - 1], outputs[t], moving_pixels(inputs[t - 1], inputs[t])) for t in range(1, len(inputs))]
    )
