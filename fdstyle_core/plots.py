"""Figures for `eval`: flicker over time per method, and a strip of frames with each method's mask.

matplotlib is optional (the ``eval`` extra) and imported only when a figure is asked for, with the
Agg backend so that it works without a display.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import FdstyleError

# Frames shown in a strip, and how strongly freshly stylized pixels are tinted.
STRIP_FRAMES = 5
TINT = np.array([0, 255, 0], np.float32)
TINT_ALPHA = 0.45


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise FdstyleError("plots need matplotlib: pip install 'fdstyle[eval]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def flicker_over_time(name: str, per_frame: dict[str, list[float | None]], path: Path) -> Path:
    """One line per method: background flicker of each frame (gaps where nothing was static)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
    for method, values in per_frame.items():
        ax.plot(range(1, len(values) + 1), [np.nan if v is None else v for v in values], label=method, linewidth=1.2)
    ax.set(title=f"{name}: background flicker per frame", xlabel="frame", ylabel="mean |O(t) − O(t−1)|, static pixels")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


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
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
