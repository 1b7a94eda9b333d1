"""The `flow` baseline: the previous output follows the motion, and the mode runs in the pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fdstyle_core.stabilizers.flow import FlowStabilizer
from fdstyle_core.engine.pipeline import Pipeline, PipelineConfig
from fdstyle_core.stabilizers.base import MaskParams

from tests.synthetic import shifted, texture


def as_tensor(frame: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frame).permute(2, 0, 1)[None].float()


def test_previous_output_is_carried_along_the_flow() -> None:
    """With a stylization that paints a constant, kept pixels show the warped first frame's paint."""
    before = texture(seed=2)
    after = shifted(before, 3, 1)
    stabilizer = FlowStabilizer(MaskParams())
    first = stabilizer.step(as_tensor(before), lambda x: x)
    assert first.mask is None and torch.equal(first.output, as_tensor(before))
    second = stabilizer.step(as_tensor(after), lambda x: torch.zeros_like(x))
    assert second.mask is not None
    kept = second.mask[0, 0].bool()
    assert kept.float().mean() > 0.6
    # Where kept, the output is the first frame moved along with the content: the second frame.
    error = (second.output[0, :, kept] - as_tensor(after)[0, :, kept]).abs().mean()
    assert error < 2.0
    assert torch.all(second.output[0, :, ~kept] == 0)  # the rest is the fresh stylization


def test_flow_mode_runs_in_the_pipeline(candy: Path) -> None:
    pipeline = Pipeline(PipelineConfig(style=str(candy), mode="flow", device="cpu"))
    frame = texture(48, 32)
    first = pipeline.process(frame)
    second = pipeline.process(frame)
    mask = pipeline.mask_image()
    assert mask is not None and mask.shape == (32, 48)
    assert (mask == 255).mean() > 0.9  # a still frame keeps nearly everything
    assert np.abs(second.astype(int) - first.astype(int)).mean() < 1.0
