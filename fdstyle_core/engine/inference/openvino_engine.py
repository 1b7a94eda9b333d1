"""The network run by OpenVINO: the fast path on CPUs, and Intel integrated GPUs and NPUs.

Its graphs are converted from the very torch modules the torch engine runs, so the two paint
the same: the plain network, the full frame that also returns its instance-norm statistics (a
third slower: the statistics keep OpenVINO from fusing each norm), and the region that reuses
them.  Full-frame graphs are compiled per input size (static shapes are what OpenVINO optimizes
best, and a compile takes a fraction of a second); on the CPU the region graph keeps dynamic
sizes, since every region has its own, elsewhere regions are compiled per size too.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import torch

from fdstyle_core.engine.network import BlockedConvLayer, FullFrameGraph, RegionGraph, Stats, StyleNet, TransformerNet
from fdstyle_core.io.atomic import replaced_on_success
from fdstyle_core.io.paths import user_cache_dir

# Our device names → OpenVINO's.
DEVICES = {"cpu": "CPU", "intel-gpu": "GPU", "npu": "NPU"}
HINTS = {"fp32": "f32", "fp16": "f16", "bf16": "bf16"}
GRAPHS = ("plain", "full", "region")
# Compiled graphs kept per engine: a few camera sizes and region sizes.
MAX_COMPILED = 8
# Input sizes whose kernels the CPU plugin keeps for the dynamic region graph (its default, 5000,
# grew OBS by about 0.8 MB for every new region size, without end).
RUNTIME_CACHE_SHAPES = 16
_EXAMPLE_SIDE = 32
# Bump when FullFrameGraph or RegionGraph change, so cached conversions are made again.
GRAPH_VERSION = 3
# The last layer (3 outputs, a 9×9 or 5×5 kernel) is converted in 2×2 pixel blocks: faster on CPUs.
LAST_LAYER_BLOCKS = 2


@lru_cache(maxsize=1)
def _core() -> Any:
    import openvino

    core = openvino.Core()
    core.set_property({"CACHE_DIR": str(user_cache_dir() / "openvino")})  # GPU/NPU compiles take seconds
    return core


def installed() -> bool:
    try:
        _core()
    except Exception:  # noqa: BLE001 - missing or broken, both mean "not here"
        return False
    return True


def available_devices() -> list[str]:
    """Our names of the OpenVINO devices this machine has (the CPU first)."""
    if not installed():
        return []
    present = {name.split(".")[0] for name in _core().available_devices}
    return [ours for ours, theirs in DEVICES.items() if theirs in present]


def native_bf16() -> bool:
    """Whether the CPU computes bf16 in hardware (AVX-512 BF16 or AMX), where OpenVINO's bf16 pays."""
    return installed() and "BF16" in _core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def _convert(net: StyleNet) -> tuple[Any, ...]:
    """The plain, full-frame and region graphs of ``net`` as OpenVINO models (any frame size), in :data:`GRAPHS` order."""
    import openvino

    net = copy.deepcopy(net).to(device="cpu", dtype=torch.float32).eval()
    if isinstance(net, TransformerNet):  # a LiteNet's last layer works on pixel blocks already
        net.deconv3 = BlockedConvLayer(net.deconv3, LAST_LAYER_BLOCKS)  # type: ignore[assignment]
    example = torch.zeros(1, 3, _EXAMPLE_SIDE, _EXAMPLE_SIDE)
    any_size = openvino.PartialShape([1, 3, -1, -1])
    with torch.no_grad():
        stats = FullFrameGraph(net)(example)[1:]
        plain = openvino.convert_model(net, example_input=example, input=[any_size])
        full = openvino.convert_model(FullFrameGraph(net), example_input=example, input=[any_size])
        region = openvino.convert_model(
            RegionGraph(net),
            example_input=(example, *stats),
            input=[any_size, *(openvino.PartialShape(list(s.shape)) for s in stats)],
        )
    return plain, full, region


@dataclass
class _Compiled:
    """An infer request, and the statistics bound to its inputs after the first: a region graph's
    30 statistics change once in many frames, and handing them over costs time at every pass."""

    request: Any
    bound: Stats = ()
    arrays: list[Any] = field(default_factory=list)  # the memory the bound inputs share

    def bind(self, stats: Stats) -> None:
        import openvino

        if not stats or stats is self.bound:
            return
        self.bound, self.arrays = (), [s.contiguous().numpy() for s in stats]  # unbound should a binding fail
        for index, array in enumerate(self.arrays, start=1):
            self.request.set_input_tensor(index, openvino.Tensor(array, shared_memory=True))
        self.bound = stats


def _weights_key(net: StyleNet) -> str:
    import openvino

    digest = hashlib.sha256(f"{GRAPH_VERSION} {openvino.__version__}".encode())
    for name, value in sorted(net.state_dict().items()):
        digest.update(name.encode())
        digest.update(value.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


def _graphs(net: StyleNet) -> dict[str, Any]:
    """:func:`_convert`, kept on disk per set of weights: converting takes seconds, reading it back
    a few milliseconds.  A cache that cannot be read or written only costs the conversion."""
    import openvino

    folder = user_cache_dir() / "openvino" / "graphs"
    paths = {graph: folder / f"{_weights_key(net)}_{graph}.xml" for graph in GRAPHS}
    try:
        return {graph: _core().read_model(path) for graph, path in paths.items()}
    except Exception:  # noqa: BLE001 - missing or damaged: convert again
        pass
    models = dict(zip(GRAPHS, _convert(net)))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for graph, path in paths.items():
            # The .bin lands first, then the .xml that a reader looks for.
            with replaced_on_success(path) as graph_file, replaced_on_success(path.with_suffix(".bin")) as weights:
                openvino.save_model(models[graph], graph_file, compress_to_fp16=False)  # exact fp32 weights
                os.replace(graph_file.with_suffix(".bin"), weights)
    except OSError:
        pass
    return models


class OpenVINOEngine:
    name = "openvino"
    device = torch.device("cpu")  # frames stay in host memory whatever OpenVINO runs on

    def __init__(self, net: StyleNet, device: str = "cpu", precision: str = "fp32", threads: int = 0) -> None:
        self.precision, self.ov_device, self.threads = precision, DEVICES[device], threads
        self.own_cpu_threads = self.ov_device == "CPU"
        self._models = _graphs(net)
        self._config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": HINTS[precision], "PERFORMANCE_HINT": "LATENCY"}
        if threads > 0:
            self._config["INFERENCE_NUM_THREADS"] = threads
        if self.ov_device == "CPU":  # every region size gets kernels of its own: keep a few, not thousands
            self._config["CPU_RUNTIME_CACHE_CAPACITY"] = str(RUNTIME_CACHE_SHAPES)
        self._compiled: OrderedDict[tuple[str, int, int], _Compiled] = OrderedDict()

    @property
    def label(self) -> str:
        threads = ""
        if self.threads and self.ov_device == "CPU":
            threads = f", {self.threads} thread{'s' if self.threads > 1 else ''}"
        return f"openvino {self.ov_device} {self.precision}{threads}"

    def _request(self, graph: str, height: int, width: int) -> _Compiled:
        """An infer request for ``graph`` at this size, compiled on first use and kept (least recently used out)."""
        if graph == "region" and self.ov_device == "CPU":
            height = width = -1  # one dynamic-size region graph
        key = (graph, height, width)
        if key in self._compiled:
            self._compiled.move_to_end(key)
            return self._compiled[key]
        model = self._models[graph]
        if height > 0:
            model = model.clone()
            model.reshape({0: [1, 3, height, width]})
        compiled = _Compiled(_core().compile_model(model, self.ov_device, self._config).create_infer_request())
        self._compiled[key] = compiled
        if len(self._compiled) > MAX_COMPILED:
            self._compiled.popitem(last=False)
        return compiled

    def discard(self, height: int, width: int) -> None:
        for graph in ("plain", "full"):
            self._compiled.pop((graph, height, width), None)

    def plain(self, x: torch.Tensor) -> torch.Tensor:
        return self._infer("plain", x, ())[0]

    def full(self, x: torch.Tensor) -> tuple[torch.Tensor, Stats]:
        outputs = self._infer("full", x, ())
        return outputs[0], tuple(outputs[1:])

    def region(self, x: torch.Tensor, stats: Stats) -> torch.Tensor:
        return self._infer("region", x, stats)[0]

    def _infer(self, graph: str, x: torch.Tensor, stats: Stats) -> list[torch.Tensor]:
        if x.shape[0] != 1:
            raise ValueError("the OpenVINO graphs paint one frame at a time")
        compiled = self._request(graph, *x.shape[-2:])
        compiled.bind(stats)
        results = compiled.request.infer({0: x.float().contiguous().numpy()}, share_inputs=True)  # outputs are copies, safe to keep
        return [torch.from_numpy(results[k]) for k in range(len(results))]
