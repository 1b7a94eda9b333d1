"""Synthetic frames with known motion, for the metric and flow tests."""

from __future__ import annotations

import numpy as np


def texture(width: int = 96, height: int = 72, seed: int = 0) -> np.ndarray:
    """A smooth, non-repeating RGB texture (smooth so that bilinear warps are near exact)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(seed)
    channels = []
    for _ in range(3):
        a, b, c, d = rng.uniform(0.05, 0.25, 4)
        channels.append(127 + 60 * np.sin(a * xs + b * ys) + 60 * np.cos(c * xs - d * ys))
    return np.clip(np.stack(channels, axis=2), 0, 255).round().astype(np.uint8)


def shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The content moved by (dx, dy): new(x) = old(x − d), edges filled by replication."""
    height, width = image.shape[:2]
    ys = np.clip(np.arange(height) - dy, 0, height - 1)
    xs = np.clip(np.arange(width) - dx, 0, width - 1)
    return image[ys][:, xs]
