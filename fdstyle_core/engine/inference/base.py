"""What the painter asks of an inference engine."""

from __future__ import annotations

from typing import Protocol

import torch

from fdstyle_core.engine.network import Stats


class InferenceEngine(Protocol):
    """Runs the style network on N×3×H×W float32 tensors (H, W multiples of 4) on :attr:`device`.

    Outputs are float32 and unclamped; the statistics are fp32 whatever the precision.
    """

    name: str  # "torch" or "openvino"
    device: torch.device  # where frame tensors live for this engine
    precision: str  # fp32, fp16 or bf16
    own_cpu_threads: bool  # whether it runs the network on a CPU thread pool of its own

    @property
    def label(self) -> str: ...

    def plain(self, x: torch.Tensor) -> torch.Tensor:
        """The whole frame alone: the fastest pass, for painters that never paint regions."""
        ...

    def full(self, x: torch.Tensor) -> tuple[torch.Tensor, Stats]:
        """The whole frame and its instance-norm statistics, which :meth:`region` reuses."""
        ...

    def region(self, x: torch.Tensor, stats: Stats) -> torch.Tensor: ...

    def discard(self, height: int, width: int) -> None:
        """Free what was compiled for whole frames of this input size (a size only timed, not painted)."""
        ...
