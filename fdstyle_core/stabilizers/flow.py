"""`flow`: carry the last painting along the optical flow (a baseline from the video-style-transfer literature)."""

from __future__ import annotations

import numpy as np
import torch

from fdstyle_core.stabilizers.base import MaskParams, StepResult, Stylize, grey
from fdstyle_core.stabilizers.optical_flow import consistent, dense_flow, warp


class FlowStabilizer:
    """Baseline in the spirit of Ruder et al.: keep the flow-warped previous output where flow is reliable.

    Flow is computed on the input frames, current → previous, so the previous output can be
    pulled onto the current grid; elsewhere (occlusions, motion boundaries, newly seen border)
    the fresh stylization is used.  The mask parameters do not apply (flow decides instead).
    DIS runs on the CPU, so on a GPU each frame's grey image and previous output make a round trip.
    """

    def __init__(self, params: MaskParams | None = None) -> None:
        self.reset()

    def reset(self) -> None:
        self._prev_grey: list[np.ndarray] | None = None
        self._prev_output: torch.Tensor | None = None

    def retune(self, params: MaskParams) -> None:
        """Flow consistency, not the threshold or morphology, decides what is kept."""

    def step(self, frame: torch.Tensor, stylize: Stylize) -> StepResult:
        now = [grey_u8_tensor(image) for image in frame]
        styled = stylize(frame)
        prev_grey, prev_output = self._prev_grey, self._prev_output
        self._prev_grey = now
        if prev_grey is None or prev_output is None or prev_output.shape != styled.shape:
            self._prev_output = styled
            return StepResult(styled, None, True)
        warped, masks = [], []
        for index, (cur, prev) in enumerate(zip(now, prev_grey)):
            back = dense_flow(cur, prev)
            keep = consistent(back, dense_flow(prev, cur))
            image = prev_output[index].permute(1, 2, 0).cpu().numpy()
            warped.append(torch.from_numpy(warp(image, back)[0]).permute(2, 0, 1))
            masks.append(torch.from_numpy(keep)[None].float())
        mask = torch.stack(masks).to(styled.device)
        output = torch.where(mask.bool(), torch.stack(warped).to(styled.device), styled)
        self._prev_output = output
        return StepResult(output, mask, True)


def grey_u8_tensor(image: torch.Tensor) -> np.ndarray:
    """The paper's grey of one C×H×W 0–255 tensor as a uint8 array on the CPU."""
    return grey(image[None])[0, 0].round().clamp(0, 255).to(torch.uint8).cpu().numpy()
