"""Figures for `eval`: flicker over time per method, a strip of frames with each method's mask, and
a zoomed crop of the worst seam.

matplotlib is optional (the ``eval`` extra) and imported only when a figure is asked for, with the
Agg backend so that it works without a display.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fdstyle_core.io.atomic import replaced_on_success
from fdstyle_core.errors import FdstyleError
from fdstyle_core.evaluation.metrics import gradient_energy, seam_pixels

# Frames shown in a strip, and how strongly freshly stylized pixels are tinted.
STRIP_FRAMES = 5
TINT = np.array([0, 255, 0], np.float32)
TINT_ALPHA = 0.45
# Seam close-up: side of the crop in frame pixels, and the nearest-neighbour zoom.
SEAM_CROP = 48
SEAM_ZOOM = 4


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise FdstyleError("plots need matplotlib: pip install 'fdstyle[eval]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, **options) -> Path:  # type: ignore[no-untyped-def]
    """Save (never a truncated figure, see :mod:`fdstyle_core.io.atomic`) and close."""
    try:
        with replaced_on_success(path) as tmp:
            fig.savefig(tmp, **options)
    finally:
        _pyplot().close(fig)
    return path


def flicker_over_time(name: str, per_frame: dict[str, list[float | None]], path: Path) -> Path:
    """One line per method: background flicker of each frame (gaps where nothing was static)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
    for method, values in per_frame.items():
        ax.plot(range(1, len(values) + 1), [np.nan if v is None else v for v in values], label=method, linewidth=1.2)
    ax.set(title=f"{name}: background flicker per frame", xlabel="frame", ylabel="mean |O(t) − O(t−1)|, static pixels")
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path, dpi=120)


def overlay(frame: np.ndarray, kept: np.ndarray | None) -> np.ndarray:
    """Tint the pixels a method took fresh from the network (not kept from the previous output)."""
    if kept is None:
        return frame
    image = frame[:, :, :3].astype(np.float32)
    fresh = ~kept
    image[fresh] = (1 - TINT_ALPHA) * image[fresh] + TINT_ALPHA * TINT
    return image.round().astype(np.uint8)


def frame_strip(
    name: str,
    inputs: list[np.ndarray],
    methods: dict[str, tuple[list[np.ndarray], list[np.ndarray | None]]],
    path: Path,
) -> Path:
    """Rows: the input, then each method's output with its fresh pixels tinted green; columns: frames."""
    plt = _pyplot()
    picks = np.linspace(1, len(inputs) - 1, min(STRIP_FRAMES, len(inputs) - 1)).round().astype(int)
    rows = [("input", [inputs[t] for t in picks])]
    rows += [(m, [overlay(outputs[t], kept[t]) for t in picks]) for m, (outputs, kept) in methods.items()]
    height, width = inputs[0].shape[:2]
    scale = 2.2 / height
    fig, axes = plt.subplots(
        len(rows), len(picks), figsize=(len(picks) * width * scale, len(rows) * height * scale + 0.4), squeeze=False
    )
    for r, (label, images) in enumerate(rows):
        for c, image in enumerate(images):
            ax = axes[r][c]
            ax.imshow(image)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"frame {picks[c]}", fontsize=8)
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
    fig.suptitle(f"{name}: green = stylized fresh this frame, the rest kept from the previous output (no mask: all fresh)", fontsize=9)
    return _save(fig, path, dpi=110, bbox_inches="tight")


def _worst_seam(outputs: list[np.ndarray], kept: list[np.ndarray | None]) -> tuple[int, int, int]:
    """Frame and crop corner with the most output gradient energy on one method's mask boundary."""
    best = (-1.0, 1, 0, 0)
    for t in range(1, len(outputs)):
        mask = kept[t]
        if mask is None:
            continue
        energy = gradient_energy(outputs[t]) * seam_pixels(mask)
        side = min(SEAM_CROP, *energy.shape)
        window = cv2.boxFilter(energy, -1, (side, side), normalize=False, anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
        window = window[: energy.shape[0] - side + 1, : energy.shape[1] - side + 1]
        y, x = np.unravel_index(int(window.argmax()), window.shape)
        if window[y, x] > best[0]:
            best = (float(window[y, x]), t, int(y), int(x))
    return best[1:]


def seam_zoom(
    name: str,
    inputs: list[np.ndarray],
    stylized: list[np.ndarray],
    methods: dict[str, tuple[list[np.ndarray], list[np.ndarray | None]]],
    path: Path,
) -> Path:
    """Where the last listed method with a mask has its strongest seam, zoomed ×SEAM_ZOOM (nearest):
    input, fresh S_t and every method there (list the variant to inspect last, e.g. reference:feather=0)."""
    plt = _pyplot()
    masked = [run for run in methods.values() if any(k is not None for k in run[1])]
    t, y, x = _worst_seam(*masked[-1]) if masked else (len(inputs) - 1, 0, 0)
    side = min(SEAM_CROP, *inputs[0].shape[:2])
    tiles = [("input", inputs[t]), ("fresh S_t", stylized[t])] + [(m, outputs[t]) for m, (outputs, _) in methods.items()]
    fig, axes = plt.subplots(1, len(tiles), figsize=(2.2 * len(tiles), 2.5), squeeze=False)
    for ax, (label, image) in zip(axes[0], tiles):
        crop = image[y : y + side, x : x + side, :3]
        ax.imshow(np.repeat(np.repeat(crop, SEAM_ZOOM, axis=0), SEAM_ZOOM, axis=1), interpolation="nearest")
        ax.set_title(label, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{name}: frame {t}, {side}×{side} px at ({x}, {y}), ×{SEAM_ZOOM} nearest", fontsize=9)
    return _save(fig, path, dpi=110, bbox_inches="tight")
