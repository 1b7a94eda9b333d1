"""The VGG loss network, defined here so that training needs no torchvision.

Parameter names match torchvision's ``vgg16().features`` / ``vgg19().features``
(``features.N.weight``), so torchvision's ImageNet ``.pth`` files load unchanged, and so does the
partial VGG19 (conv1_1 … conv3_1) that is the only VGG on machines without internet access.
Only the layers up to the deepest one a loss asks for are built, which is also what lets a
partial file serve: it must cover those layers, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fdstyle_core.errors import FdstyleError

# Channel counts per conv, "M" = max-pool; torchvision's configurations "D" (VGG16) and "E" (VGG19).
_CONFIGS: dict[str, list[int | str]] = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
# torchvision's public ImageNet weights, fetched through torch.hub's cache on a connected machine.
TORCHVISION_URLS = {
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
}


@dataclass(frozen=True)
class InputConvention:
    """How RGB 0–255 must be shifted and scaled before the first convolution for a given weight set."""

    name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


# torchvision: (x/255 - mean)/std.  Caffe-trained weights (the partial npz): x - mean, RGB order.
TORCHVISION_INPUT = InputConvention("torchvision", (123.675, 116.28, 103.53), (58.395, 57.12, 57.375))
CAFFE_INPUT = InputConvention("caffe", (123.68, 116.78, 103.94), (1.0, 1.0, 1.0))
CONVENTIONS = {c.name: c for c in (TORCHVISION_INPUT, CAFFE_INPUT)}


def layer_names(arch: str) -> list[str]:
    """Names of ``features`` modules in order: conv1_1, relu1_1, …, pool1, conv2_1, …"""
    names, block, index = [], 1, 1
    for item in _CONFIGS[arch]:
        if item == "M":
            names.append(f"pool{block}")
            block, index = block + 1, 1
        else:
            names += [f"conv{block}_{index}", f"relu{block}_{index}"]
            index += 1
    return names


def build_features(arch: str, depth: int) -> nn.Sequential:
    """torchvision's ``features`` stack cut after its first ``depth`` modules (indices are kept)."""
    modules: list[nn.Module] = []
    channels = 3
    for item in _CONFIGS[arch]:
        if item == "M":
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            modules += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            channels = int(item)
    return nn.Sequential(*modules[:depth])


class VGGFeatures(nn.Module):
    """Frozen VGG ``features``: RGB 0–255 in, the activations at the named layers out."""

    def __init__(self, arch: str, layers: list[str], convention: InputConvention) -> None:
        super().__init__()
        names = layer_names(arch)
        unknown = [layer for layer in layers if layer not in names]
        if unknown:
            raise FdstyleError(f"{arch} has no layer {', '.join(unknown)} (layers look like relu2_2)")
        self.arch = arch
        self.layers = list(layers)
        self.convention = convention
        self._index = {name: i for i, name in enumerate(names)}
        self.features = build_features(arch, max(self._index[layer] for layer in layers) + 1)
        self.register_buffer("mean", torch.tensor(convention.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(convention.std).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False).eval()

    def forward(self, rgb255: torch.Tensor) -> dict[str, torch.Tensor]:
        wanted = {self._index[layer]: layer for layer in self.layers}
        x = (rgb255 - self.mean) / self.std
        out: dict[str, torch.Tensor] = {}
        for i, module in enumerate(self.features):
            x = module(x)
            if i in wanted:
                out[wanted[i]] = x
        return out


def _read_weights(source: Path) -> dict[str, torch.Tensor]:
    """Tensors from a ``.npz`` or a ``.pth`` (read with ``weights_only``: weight files are untrusted)."""
    if not source.is_file():
        raise FdstyleError(f"VGG weights not found: {source}")
    try:
        if source.suffix == ".npz":
            with np.load(source, allow_pickle=False) as archive:
                return {key: torch.from_numpy(archive[key].astype(np.float32)) for key in archive.files}
        raw = torch.load(source, map_location="cpu", weights_only=True)
    except OSError:
        raise  # unreadable, not malformed: the command line says which file and why
    except Exception:  # numpy, zipfile and torch raise many types, torch with advice to load unsafely
        raise FdstyleError(
            f"cannot read VGG weights {source.name}: not a .npz or a PyTorch .pth of tensors (damaged, another "
            "format, or holding Python objects, which are refused because loading them could run code)"
        ) from None
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise FdstyleError(f"{source.name} is not a state dict of VGG weights")
    return {str(k): v.float() for k, v in raw.items()}


def _infer_arch(state: dict[str, torch.Tensor]) -> str:
    """VGG19 has its 4th conv at index 16 and VGG16 at 17; files that stop before that are ambiguous."""
    if "features.16.weight" in state:
        return "vgg19"
    if "features.17.weight" in state:
        return "vgg16"
    return "vgg19"


def _check_and_trim(state: dict[str, torch.Tensor], net: nn.Module, source: str) -> dict[str, torch.Tensor]:
    """The ``features.*`` tensors the built stack needs, with a readable error for anything else."""
    expected = net.state_dict()
    present = {k: v for k, v in state.items() if k.startswith("features.")}
    if not present:
        sample = ", ".join(sorted(state)[:3]) or "nothing"
        raise FdstyleError(f"{source} is not VGG weights (no features.N.weight keys; found {sample})")
    missing = [k for k in expected if k not in present]
    if missing:
        covered = [k for k in expected if k in present]
        raise FdstyleError(
            f"{source} lacks {missing[0]} (it covers {len(covered) // 2} of the {len(expected) // 2} "
            "convolutions these loss layers need; use full torchvision VGG weights or shallower layers)"
        )
    for key, tensor in expected.items():
        if present[key].shape != tensor.shape:
            raise FdstyleError(
                f"{source}: {key} has shape {tuple(present[key].shape)}, expected {tuple(tensor.shape)} "
                "(not the VGG architecture asked for)"
            )
        if not torch.isfinite(present[key]).all():
            raise FdstyleError(f"{source}: {key} holds non-finite values")
    return {k: present[k] for k in expected}


def load_vgg(source: str | Path, layers: list[str], arch: str | None = None, convention: str | None = None) -> VGGFeatures:
    """A frozen VGG loss network from a file, or from ``vgg16``/``vgg19`` (torchvision's URL via torch.hub).

    ``arch`` defaults to what the file's keys say (VGG19 when they stop too early to tell);
    ``convention`` defaults to Caffe for ``.npz`` files and torchvision otherwise.
    """
    text = str(source)
    if text in TORCHVISION_URLS:
        arch = arch or text
        try:
            state = torch.hub.load_state_dict_from_url(TORCHVISION_URLS[text], map_location="cpu", progress=True)
        except Exception as exc:  # no network, proxy errors, a partial download
            raise FdstyleError(
                f"cannot fetch {text} weights from {TORCHVISION_URLS[text]}: {exc} (offline? pass --vgg FILE)"
            ) from None
        label, default_convention = text, TORCHVISION_INPUT.name
    else:
        path = Path(source).expanduser()
        state = _read_weights(path)
        label = path.name
        default_convention = CAFFE_INPUT.name if path.suffix == ".npz" else TORCHVISION_INPUT.name
    arch = arch or _infer_arch(state)
    if arch not in _CONFIGS:
        raise FdstyleError(f"unknown VGG architecture '{arch}' (choose from {', '.join(_CONFIGS)})")
    chosen = convention or default_convention
    if chosen not in CONVENTIONS:
        raise FdstyleError(f"unknown VGG input convention '{chosen}' (choose from {', '.join(CONVENTIONS)})")
    net = VGGFeatures(arch, layers, CONVENTIONS[chosen])
    net.load_state_dict(_check_and_trim(state, net, label))
    return net
