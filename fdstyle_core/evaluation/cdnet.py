"""CDnet-format clips: ``input/in%06d.jpg``, ``groundtruth/gt%06d.png``, ``ROI.bmp``, ``temporalROI.txt``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fdstyle_core.errors import FdstyleError
from fdstyle_core.io.video import read_image


def is_cdnet_clip(path: Path) -> bool:
    return (path / "input").is_dir() and (path / "groundtruth").is_dir()


@dataclass
class CdnetClip:
    """Frames are numbered from 1 as in CDnet; only ``first``–``last`` (temporalROI) are scored."""

    root: Path
    first: int
    last: int
    roi: np.ndarray  # True = inside the spatial region of interest

    @classmethod
    def open(cls, root: Path) -> "CdnetClip":
        root = Path(root)
        if not is_cdnet_clip(root):
            raise FdstyleError(f"{root} is not a CDnet clip (needs input/ and groundtruth/)")
        try:
            first, last = (int(v) for v in (root / "temporalROI.txt").read_text().split()[:2])
        except (OSError, ValueError):
            raise FdstyleError(f"{root}/temporalROI.txt missing or unreadable (expected 'FIRST LAST')") from None
        roi_image = cv2.imread(str(root / "ROI.bmp"), cv2.IMREAD_GRAYSCALE)
        clip = cls(root, first, last, np.ones((1, 1), bool) if roi_image is None else roi_image > 0)
        if not clip.input_path(first).exists() or not clip.input_path(last).exists():
            raise FdstyleError(f"{root}: frames {first}–{last} of temporalROI.txt are missing from input/")
        return clip

    def input_path(self, index: int) -> Path:
        return self.root / "input" / f"in{index:06d}.jpg"

    def frame(self, index: int) -> np.ndarray:
        return read_image(self.input_path(index))

    def truth(self, index: int) -> np.ndarray:
        """CDnet labels: 0 static, 50 shadow, 85 outside ROI, 170 unknown, 255 moving."""
        path = self.root / "groundtruth" / f"gt{index:06d}.png"
        labels = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if labels is None:
            raise FdstyleError(f"cannot read ground truth {path}")
        return labels

    def scored(self, stride: int = 1, limit: int = 0) -> list[int]:
        """Frame numbers to score: inside temporalROI, every ``stride``-th, at most ``limit`` (0 = all)."""
        indices = list(range(max(self.first, 2), self.last + 1, max(1, stride)))
        return indices[:limit] if limit else indices
