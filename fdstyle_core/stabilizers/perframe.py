"""`perframe`: every frame painted on its own (the flickering baseline)."""

from __future__ import annotations

import torch

from fdstyle_core.stabilizers.base import MaskParams, StepResult, Stylize


class PerFrame:
    """Johnson et al. as is: every frame stylized on its own (the flickering baseline)."""

    def __init__(self, params: MaskParams | None = None) -> None:
        """Takes (and ignores) mask parameters so that every mode is built the same way."""

    def reset(self) -> None:
        """Nothing carries over between frames."""

    def retune(self, params: MaskParams) -> None:
        """No mask, so nothing to retune."""

    def step(self, frame: torch.Tensor, stylize: Stylize) -> StepResult:
        return StepResult(stylize(frame), None, True)
