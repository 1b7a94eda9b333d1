"""Style strength and colour keeping, applied to fresh paint before the stabilizer composites it.

Applied to the paint (not to the final output), so the pixels the stabilizer keeps were finished
the same way as the ones it repaints, and a static background stays still whatever the settings.
Keep colours follows Gatys et al.'s colour preservation: the painting's luminance with the
camera's chroma (BT.601 YCbCr).
"""

from __future__ import annotations

from typing import Any

import torch

from fdstyle_core.engine.painter import Box, Painter

_LUMA = (0.299, 0.587, 0.114)


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    r, g, b = rgb[:, 0:1], rgb[:, 1:2], rgb[:, 2:3]
    return _LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b


def finish(paint: torch.Tensor, camera: torch.Tensor, strength: float, keep_colours: bool) -> torch.Tensor:
    """``paint`` with the camera's colours (optionally), blended with the camera by ``strength`` (0–1)."""
    camera = camera[:, :3]
    if keep_colours:
        paint = (camera + (luminance(paint) - luminance(camera))).clamp(0, 255)  # same Y as paint, camera's Cb/Cr
    if strength >= 1:
        return paint
    return strength * paint + (1 - strength) * camera


class FinishedPainter:
    """A painter whose paint is finished by :func:`finish`; everything else is the wrapped painter's."""

    def __init__(self, painter: Painter, strength: float, keep_colours: bool) -> None:
        self.painter, self.strength, self.keep_colours = painter, strength, keep_colours

    def __call__(self, frame: torch.Tensor) -> torch.Tensor:
        return finish(self.painter(frame), frame, self.strength, self.keep_colours)

    def regions(self, frame: torch.Tensor, boxes: list[Box]) -> list[torch.Tensor]:
        painted = self.painter.regions(frame, boxes)
        return [
            finish(paint, frame[:, :, y0:y1, x0:x1], self.strength, self.keep_colours)
            for paint, (y0, y1, x0, x1) in zip(painted, boxes)
        ]

    def __getattr__(self, name: str) -> Any:  # region_cost, has_statistics, counters
        return getattr(self.painter, name)
