"""OpenCV versions of the stabilizers' mask filters, for masks in host memory.

On a CPU, OpenCV's box filters and morphology on single-channel images are several times
faster than torch's pooling.  Each function here computes exactly what its torch twin in
:mod:`fdstyle_core.stabilizers.base` or :mod:`~fdstyle_core.stabilizers.reference` computes,
border rules included (the tests compare them), on N×1×H×W float32 CPU tensors of 0s and 1s.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch


def _planes(mask: torch.Tensor) -> list[np.ndarray]:
    """The N H×W planes of an N×1×H×W CPU tensor, as numpy views (no copy)."""
    return [plane[0] for plane in mask.contiguous().numpy()]


def _stack(planes: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(planes)[:, None])


def _valid_counts(length: int, radius: int) -> np.ndarray:
    """How many of the 2·radius+1 taps centred on each index fall inside ``0 … length−1``."""
    index = np.arange(length)
    return (np.minimum(index + radius, length - 1) - np.maximum(index - radius, 0) + 1).astype(np.float32)


def _box_sum(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    """Sum over a width×height window, zero outside the image."""
    return cv2.boxFilter(plane, -1, (width, height), normalize=False, borderType=cv2.BORDER_CONSTANT)


def speck_free_grown(changed: torch.Tensor, neighbours: int, grow_side: int) -> torch.Tensor:
    """Changed pixels with at least ``neighbours`` of their 3×3 neighbourhood changed (the share
    counted over the neighbours inside the image, as torch's average pooling without padding
    does), then dilated by a ``grow_side``² square."""
    out = []
    for plane in _planes(changed):
        counts = _box_sum(plane, 3, 3)
        valid = np.outer(_valid_counts(plane.shape[0], 1), _valid_counts(plane.shape[1], 1))
        # counts / valid · 9 ≥ neighbours − 0.5, in exact integers: 18·counts ≥ (2·neighbours − 1)·valid
        kept = (plane * (18 * counts >= (2 * neighbours - 1) * valid)).astype(np.float32)
        out.append(kept)
    kept = _stack(out)
    return square_max(kept, grow_side) if grow_side > 1 else kept


def feathered(region: torch.Tensor, radius: int) -> torch.Tensor:
    """1 inside ``region``, falling to 0 over ``radius`` px: twice a (2r+1)² box average over the
    pixels inside the image, as a row pass then a column pass, clamped to 1."""
    side = 2 * radius + 1
    out = []
    for plane in _planes(region):
        rows = _box_sum(plane, side, 1) / _valid_counts(plane.shape[1], radius)[None, :]
        box = _box_sum(rows, 1, side) / _valid_counts(plane.shape[0], radius)[:, None]
        out.append(np.maximum(plane, np.minimum(2 * box, 1)).astype(np.float32))
    return _stack(out)


def square_max(mask: torch.Tensor, side: int) -> torch.Tensor:
    """Max over a side² square, pixels outside the image ignored (OpenCV's default border)."""
    kernel = np.ones((side, side), np.uint8)
    return _stack([cv2.dilate(plane, kernel) for plane in _planes(mask)])


def square_min(mask: torch.Tensor, side: int) -> torch.Tensor:
    """Min over a side² square, pixels outside the image ignored."""
    kernel = np.ones((side, side), np.uint8)
    return _stack([cv2.erode(plane, kernel) for plane in _planes(mask)])
