"""Dense optical flow, warping and forward–backward consistency, and the `flow` baseline mode.

Flow is OpenCV's DIS (Kroeger et al. 2016), preset MEDIUM: on a CPU it is several times faster
than Farneback at similar accuracy, it handles the large displacements of a head turning in a
video call, and it ships with every OpenCV build.  The same functions serve the `flow` mode and
the E_warp metric, so both use one flow method.

Flows are ``H×W×2`` float32 arrays ``(dx, dy)`` in pixels on the grid of the *first* image: the
pixel at ``x`` in image A moves to ``x + flow(x)`` in image B.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from .stabilizer import MaskParams, StepResult, Stylize, grey

DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
# Ruder et al. 2016 / Lai et al. 2018 consistency constants.
FB_RELATIVE, FB_ABSOLUTE = 0.01, 0.5
EDGE_RELATIVE, EDGE_ABSOLUTE = 0.01, 0.002


def dense_flow(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """DIS flow from grey uint8 ``first`` to ``second`` (a fresh instance: safe across threads)."""
    return cv2.DISOpticalFlow_create(DIS_PRESET).calc(first, second, None)


def warp(image: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``image`` (H×W or H×W×C float32) at ``x + flow(x)``, bilinear.

    Also returns where the sample fell inside the image; outside it nothing was seen.
    """
    height, width = flow.shape[:2]
    xs = np.arange(width, dtype=np.float32)[None, :] + flow[:, :, 0]
    ys = np.arange(height, dtype=np.float32)[:, None] + flow[:, :, 1]
    warped = cv2.remap(image, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = (xs >= 0) & (xs <= width - 1) & (ys >= 0) & (ys <= height - 1)
    return warped, inside


def _squared_norm(flow: np.ndarray) -> np.ndarray:
    return flow[:, :, 0] ** 2 + flow[:, :, 1] ** 2


def consistent(flow: np.ndarray, back: np.ndarray) -> np.ndarray:
    """Where ``flow`` (A→B, on A's grid) is trustworthy, given ``back`` (B→A, on B's grid).

    Not occluded: |flow + back(x + flow)|² ≤ 0.01(|flow|² + |back warped|²) + 0.5; not on a motion
    boundary: |∇flow|² ≤ 0.01|flow|² + 0.002; and the target lies inside the image.
    """
    back_warped, inside = warp(back, flow)
    occluded = _squared_norm(flow + back_warped) > FB_RELATIVE * (_squared_norm(flow) + _squared_norm(back_warped)) + FB_ABSOLUTE
    du_dy, du_dx = np.gradient(flow[:, :, 0])
    dv_dy, dv_dx = np.gradient(flow[:, :, 1])
    gradient = du_dx**2 + du_dy**2 + dv_dx**2 + dv_dy**2
    boundary = gradient > EDGE_RELATIVE * _squared_norm(flow) + EDGE_ABSOLUTE
    return inside & ~occluded & ~boundary


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
