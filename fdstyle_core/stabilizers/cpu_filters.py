"""OpenCV versions of the stabilizers' mask filters, for masks in host memory.

On a CPU, OpenCV's filters on uint8 images are many times faster than torch's pooling on
floats (torch runs on one thread beside an engine with threads of its own).  Each function here
computes exactly what its torch twin in :mod:`fdstyle_core.stabilizers.base` or
:mod:`~fdstyle_core.stabilizers.reference` computes, border rules included (the tests compare
them), on N×1×H×W CPU tensors of 0s and 1s, uint8 or float32.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch


def _planes(mask: torch.Tensor) -> list[np.ndarray]:
    """The N H×W planes of an N×1×H×W CPU tensor, as numpy views (no copy)."""
    return [plane[0] for plane in mask.contiguous().numpy()]


def _stack(planes: list[np.ndarray]) -> torch.Tensor:
    """N H×W planes as an N×1×H×W tensor (a view of a single plane, no copy)."""
    stacked = planes[0][None] if len(planes) == 1 else np.stack(planes)
    return torch.from_numpy(stacked[:, None])


def _valid_counts(length: int, radius: int) -> np.ndarray:
    """How many of the 2·radius+1 taps centred on each index fall inside ``0 … length−1``."""
    index = np.arange(length)
    return np.minimum(index + radius, length - 1) - np.maximum(index - radius, 0) + 1


def changed_pixels(now: torch.Tensor, reference: torch.Tensor, threshold: float) -> tuple[torch.Tensor, int]:
    """Where ``|now − reference| > threshold`` as a uint8 0/1 tensor, and how many pixels that is."""
    planes = [np.greater(cv2.absdiff(a, b), threshold) for a, b in zip(_planes(now), _planes(reference))]
    return _stack(planes).view(torch.uint8), sum(map(cv2.countNonZero, (p.view(np.uint8) for p in planes)))


def _speck_free(plane: np.ndarray, neighbours: int) -> np.ndarray:
    """The changed pixels of a uint8 0/1 plane with at least ``neighbours`` of their 3×3
    neighbourhood changed, the share counted over the neighbours inside the image (as torch's
    average pooling without padding does): counts / valid · 9 ≥ neighbours − 0.5, in exact
    integers 18·counts ≥ (2·neighbours − 1)·valid."""
    counts = cv2.boxFilter(plane, -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
    need = 2 * neighbours - 1
    kept = counts >= math.ceil(need * 9 / 18)  # inside, where all 9 are valid
    height, width = plane.shape
    rows, cols = _valid_counts(height, 1), _valid_counts(width, 1)
    for y in {0, height - 1}:  # the frame's edges have fewer valid neighbours
        kept[y] = 18 * counts[y].astype(np.int32) >= need * rows[y] * cols
    for x in {0, width - 1}:
        kept[:, x] = 18 * counts[:, x].astype(np.int32) >= need * rows * cols[x]
    return np.logical_and(kept, plane, out=kept).view(np.uint8)


def speck_free_grown(changed: torch.Tensor, neighbours: int, grow_side: int) -> torch.Tensor:
    """Changed pixels with at least ``neighbours`` of their 3×3 neighbourhood changed, then dilated
    by a ``grow_side``² square; of ``changed``'s dtype."""
    planes = [_speck_free(plane.astype(np.uint8, copy=False), neighbours) for plane in _planes(changed)]
    grown = [_dilated(plane, grow_side) for plane in planes] if grow_side > 1 else planes
    return _stack(grown).to(changed.dtype)


def feathered(region: torch.Tensor, radius: int) -> torch.Tensor:
    """1 inside ``region``, falling to 0 over ``radius`` px: twice the (2r+1)² box average over the
    pixels inside the image, clamped to 1 (float32)."""
    side = 2 * radius + 1
    out = []
    for plane in _planes(region):
        plane = plane.astype(np.uint8, copy=False)
        alpha = cv2.boxFilter(plane, cv2.CV_32F, (side, side), normalize=False, borderType=cv2.BORDER_CONSTANT)
        height, width = plane.shape
        np.multiply(alpha, (2 / _valid_counts(width, radius)).astype(np.float32), out=alpha)
        np.multiply(alpha, (1 / _valid_counts(height, radius)).astype(np.float32)[:, None], out=alpha)
        np.minimum(alpha, 1, out=alpha)
        out.append(np.maximum(alpha, plane, out=alpha))
    return _stack(out)


def copy_where(target: torch.Tensor, source: torch.Tensor, mask: torch.Tensor) -> None:
    """``target = source`` where ``mask`` is set, in place; ``target`` may be a window of a larger tensor."""
    for dst, src, where in zip(target.numpy(), source.numpy(), mask.numpy()):
        cv2.copyTo(src[0], where[0].astype(np.uint8, copy=False), dst[0])


def _dilated(plane: np.ndarray, side: int) -> np.ndarray:
    """Max over a side² square, pixels outside the image ignored (OpenCV's default border)."""
    return cv2.dilate(plane, np.ones((side, side), np.uint8))


def square_max(mask: torch.Tensor, side: int) -> torch.Tensor:
    """Max over a side² square, pixels outside the image ignored."""
    return _stack([_dilated(plane, side) for plane in _planes(mask)])


def square_min(mask: torch.Tensor, side: int) -> torch.Tensor:
    """Min over a side² square, pixels outside the image ignored."""
    kernel = np.ones((side, side), np.uint8)
    return _stack([cv2.erode(plane, kernel) for plane in _planes(mask)])
