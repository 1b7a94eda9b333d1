"""`paper`: the frame-difference method of Xiong, Weber and Hu, exactly as published."""

from __future__ import annotations

from dataclasses import replace

import torch

from fdstyle_core.stabilizers.base import MaskParams, StepResult, Stylize, ThresholdStabilizer, dilate, erode, grey


def paper_mask(grey_now: torch.Tensor, grey_prev: torch.Tensor, params: MaskParams) -> torch.Tensor:
    """Steps 3–5 of the paper: threshold |ΔF| ≤ T as background, dilate, then erode."""
    background = ((grey_now - grey_prev).abs() <= params.threshold).float()
    background = dilate(background, params.dilate_kernel, params.dilate_iters)
    return erode(background, params.erode_kernel, params.erode_iters)



class PaperStabilizer(ThresholdStabilizer):
    """Xiong, Weber, Hu: O_t = O_{t−1}·B_t + S_t·(1 − B_t), with B_t from the frame difference."""

    def reset(self) -> None:
        super().reset()
        self._prev_grey: torch.Tensor | None = None
        self._prev_output: torch.Tensor | None = None

    def step(self, frame: torch.Tensor, stylize: Stylize) -> StepResult:
        now = grey(frame)
        styled = stylize(frame)
        if self._prev_output is None or self._prev_grey is None:
            mask = None
            output = styled
        else:
            threshold = self._update_threshold(now, self._prev_grey)
            mask = paper_mask(now, self._prev_grey, replace(self.params, threshold=threshold))
            output = torch.where(mask.bool(), self._prev_output, styled)
        self._prev_grey, self._prev_output = now, output
        return StepResult(output, mask, True)
