"""The stabilizer modes: one registry that the pipeline, the command line, evaluation and OBS read.

Each mode declares its class, a one-line help and the mask options it uses, so no caller
needs to know which mode is which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fdstyle_core.stabilizers.base import MaskParams, Stabilizer, StepResult
from fdstyle_core.stabilizers.flow import FlowStabilizer
from fdstyle_core.stabilizers.paper import PaperStabilizer
from fdstyle_core.stabilizers.perframe import PerFrame
from fdstyle_core.stabilizers.reference import ReferenceStabilizer

THRESHOLD_OPTIONS = ("threshold", "auto_threshold")
# The share of a frame a talking head makes the reference mode repaint, at most, most of the time.
TYPICAL_REGION_SHARE = 0.5
CLOSING_OPTIONS = ("dilate_kernel", "dilate_iters", "erode_kernel", "erode_iters")


@dataclass(frozen=True)
class Mode:
    name: str
    stabilizer: type
    help: str
    options: tuple[str, ...]  # the MaskParams fields this mode reads
    # The share of a full network pass a frame typically costs (what Automatic height budgets for).
    painted_share: Callable[[MaskParams], float] = lambda params: 1.0
    # With a fixed threshold its mask is a function of two frames alone, so frame pairs can be scored apart.
    pair_mask: bool = False
    # Whether it paints regions alone, with the statistics of the last full pass (which then cost time).
    paints_regions: bool = False

    def uses(self, option: str) -> bool:
        return option in self.options

    def make(self, params: MaskParams) -> Stabilizer:
        return self.stabilizer(params)


MODE_LIST = (
    Mode("reference", ReferenceStabilizer,
         "repaint a pixel once it differs from what it was last painted from (no ghosts, no seams)",
         (*THRESHOLD_OPTIONS, "erode_kernel", "erode_iters", "feather", "refresh_fraction", "crossfade_frames", "skip_work"),
         lambda params: TYPICAL_REGION_SHARE if params.skip_work else 1.0, paints_regions=True),
    Mode("paper", PaperStabilizer, "repaint only what moved since the last frame (the paper's method)",
         (*THRESHOLD_OPTIONS, *CLOSING_OPTIONS), pair_mask=True),
    Mode("perframe", PerFrame, "paint every frame anew (flickers; for comparison)", ()),
    Mode("flow", FlowStabilizer, "carry the last painting along the optical flow (a baseline)", ()),
)
REGISTRY: dict[str, Mode] = {mode.name: mode for mode in MODE_LIST}
MODES = tuple(REGISTRY)
DEFAULT_MODE = "reference"


def make_stabilizer(mode: str, params: MaskParams) -> Stabilizer:
    return REGISTRY[mode].make(params)


__all__ = ["DEFAULT_MODE", "MODES", "REGISTRY", "MaskParams", "Mode", "Stabilizer", "StepResult", "make_stabilizer"]
