"""The network run by torch: CUDA, Apple MPS, and the CPU when OpenVINO is missing."""

from __future__ import annotations

import copy

import torch

from fdstyle_core.engine.devices import DTYPES, device_label
from fdstyle_core.engine.network import FullFrameGraph, RegionGraph, Stats, StyleNet


class TorchEngine:
    name = "torch"
    own_cpu_threads = False  # torch's own pool, shared with the work around the network

    def __init__(self, net: StyleNet, device: torch.device, precision: str = "fp32") -> None:
        self.device, self.precision = device, precision
        self.dtype = DTYPES[precision]
        net = copy.deepcopy(net).to(device=device, dtype=self.dtype).eval()  # the caller's fp32 weights stay
        self._plain, self._full, self._region = net, FullFrameGraph(net), RegionGraph(net)

    @property
    def label(self) -> str:
        return f"torch {device_label(self.device)} {self.precision}"

    def plain(self, x: torch.Tensor) -> torch.Tensor:
        return self._plain(x.to(self.dtype)).float()

    def full(self, x: torch.Tensor) -> tuple[torch.Tensor, Stats]:
        y, *stats = self._full(x.to(self.dtype))
        return y.float(), tuple(stats)

    def region(self, x: torch.Tensor, stats: Stats) -> torch.Tensor:
        return self._region(x.to(self.dtype), *stats).float()

    def discard(self, height: int, width: int) -> None:
        """Nothing is compiled per size."""
