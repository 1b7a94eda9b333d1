"""The Johnson et al. (2016) feed-forward style network, and a lighter one for CPUs.

:class:`TransformerNet`'s module and parameter names match pytorch/examples ``fast_neural_style``
exactly, so the ``.pth`` files people already have load without renaming.  An
:class:`Architecture` says how far a network departs from the original: ``width`` scales every
channel count (1.0 is the original; 0.25 is the slim variant for CPUs), and the first and last
convolutions' kernel and the number of residual blocks can shrink too (on CPUs those two 9×9
layers at full resolution, with 3 input or 3 output channels, are a large share of a slim
network's time).  The ``lite`` kind (:class:`LiteNet`) goes further for CPUs: nothing runs at
full resolution and the residual blocks are depthwise-separable.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

BASE_CHANNELS = 32
# The three stride-2 / upsample-2 stages mean the network maps H to H only when 4 divides H.
SIZE_MULTIPLE = 4
PIXEL_BLOCK = 2  # LiteNet's first and last layers see 2×2 pixel blocks as channels
MAX_END_KERNEL = 15
MAX_RESIDUAL_BLOCKS = 16
KINDS = ("johnson", "lite")
END_KERNELS = {"johnson": 9, "lite": 3}  # each kind's usual first and last kernel


@dataclass(frozen=True)
class Architecture:
    """The shape of a style network; the defaults are Johnson et al.'s."""

    width: float = 1.0  # channel multiplier
    end_kernel: int = END_KERNELS["johnson"]  # side of the first and the last convolution's kernel (odd)
    residual_blocks: int = 5
    kind: str = "johnson"  # or "lite": see LiteNet

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown network kind '{self.kind}' (choose from {', '.join(KINDS)})")
        if not 0 < self.width <= 4:
            raise ValueError(f"width {self.width} is outside (0, 4] (1 = the original network)")
        if not (1 <= self.end_kernel <= MAX_END_KERNEL and self.end_kernel % 2):
            raise ValueError(f"end kernel {self.end_kernel} is not an odd number from 1 to {MAX_END_KERNEL}")
        if not 1 <= self.residual_blocks <= MAX_RESIDUAL_BLOCKS:
            raise ValueError(f"{self.residual_blocks} residual blocks is outside 1–{MAX_RESIDUAL_BLOCKS}")


class ConvLayer(nn.Module):
    """Reflection-padded convolution (keeps borders free of dark zero-padding seams)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class BlockedConvLayer(nn.Module):
    """A stride-1 :class:`ConvLayer` computed on ``factor``×``factor`` pixel blocks: the same
    output, from a convolution with factor² times the channels and a kernel about 1/factor as wide.

    CPU convolution kernels vectorize over channels, so a layer with few of them (the last one
    has 3 outputs) runs far below the machine's speed; on pixel blocks it runs near it.
    """

    def __init__(self, layer: ConvLayer, factor: int) -> None:
        super().__init__()
        weight, bias = layer.conv2d.weight.detach(), layer.conv2d.bias.detach()
        out_channels, in_channels, kernel, _ = weight.shape
        pad = kernel // 2
        side = -(-(kernel + factor - 1) // factor)  # blocks the kernel touches, per axis
        if layer.conv2d.stride != (1, 1) or 2 * pad // factor != side - 1 or 2 * pad % factor:
            raise ValueError(f"a {kernel}×{kernel} stride-{layer.conv2d.stride[0]} layer has no {factor}×{factor} block form")
        blocked = weight.new_zeros(out_channels, factor, factor, in_channels, factor, factor, side, side)
        for row in range(factor):  # where the output pixel sits in its block
            for col in range(factor):
                canvas = weight.new_zeros(out_channels, in_channels, factor * side, factor * side)
                canvas[:, :, row : row + kernel, col : col + kernel] = weight
                # canvas pixel (factor·i + p, factor·j + q) is input channel (c, p, q) of block (i, j)
                blocked[:, row, col] = canvas.view(out_channels, in_channels, side, factor, side, factor).permute(0, 1, 3, 5, 2, 4)
        self.factor = factor
        self.reflection_pad = nn.ReflectionPad2d(pad)
        self.conv2d = nn.Conv2d(in_channels * factor**2, out_channels * factor**2, side)
        with torch.no_grad():
            self.conv2d.weight.copy_(blocked.reshape(self.conv2d.weight.shape))
            self.conv2d.bias.copy_(bias.repeat_interleave(factor**2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``'s height and width must be multiples of ``factor``."""
        blocks = F.pixel_unshuffle(self.reflection_pad(x), self.factor)
        return F.pixel_shuffle(self.conv2d(blocks), self.factor)


class UpsampleConvLayer(ConvLayer):
    """Nearest-neighbour upsampling then convolution (avoids transposed-conv checkerboards)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, upsample: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=1)
        self.upsample = upsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.interpolate(x, scale_factor=self.upsample, mode="nearest"))


class StyleNorm(nn.InstanceNorm2d):
    """Instance norm that can record its statistics on a full frame and reuse them on crops.

    A crop normalized over itself would be painted differently from the same pixels in the
    full frame; with the full frame's mean and variance frozen, it matches.  No buffers are
    added, so state-dict keys stay exactly those of ``nn.InstanceNorm2d(affine=True)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, affine=True)
        self.recording = False
        self.frozen: tuple[torch.Tensor, torch.Tensor] | None = None
        self.recorded: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Statistics live in fp32 whatever the compute dtype: the variances of these networks
        # (input 0–255) reach millions, far above fp16's largest value (65504).
        if self.frozen is None:
            if self.recording:
                var, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)
                self.recorded = (mean, var)
            if x.dtype == torch.float32:
                return super().forward(x)
            return F.instance_norm(x.float(), weight=self.weight.float(), bias=self.bias.float(), eps=self.eps).to(x.dtype)
        mean, var = self.frozen
        scale = self.weight.float().view(1, -1, 1, 1) * torch.rsqrt(var + self.eps)
        return ((x.float() - mean) * scale + self.bias.float().view(1, -1, 1, 1)).to(x.dtype)


class SeparableConv(nn.Module):
    """A reflection-padded 3×3 depthwise convolution, then a 1×1 one across channels: a seventh
    of a full 3×3 convolution's work at 32 channels."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(1)
        self.depthwise = nn.Conv2d(channels, channels, 3, groups=channels)
        self.pointwise = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(self.reflection_pad(x)))


class ResidualBlock(nn.Module):
    """Two 3×3 convolutions and their norms added to the input; ``separable`` ones for :class:`LiteNet`."""

    def __init__(self, channels: int, separable: bool = False) -> None:
        super().__init__()
        self.conv1 = SeparableConv(channels) if separable else ConvLayer(channels, channels, 3, 1)
        self.in1 = StyleNorm(channels)
        self.conv2 = SeparableConv(channels) if separable else ConvLayer(channels, channels, 3, 1)
        self.in2 = StyleNorm(channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.in2(self.conv2(self.relu(self.in1(self.conv1(x)))))


class TransformerNet(nn.Module):
    """RGB 0–255 in, RGB roughly 0–255 out (callers clamp); spatial size must be a multiple of 4."""

    def __init__(self, width: float = 1.0, end_kernel: int = END_KERNELS["johnson"], residual_blocks: int = 5) -> None:
        super().__init__()
        self.architecture = Architecture(width, end_kernel, residual_blocks)
        c1 = max(1, round(BASE_CHANNELS * width))
        c2, c3 = 2 * c1, 4 * c1
        self.conv1 = ConvLayer(3, c1, end_kernel, 1)
        self.in1 = StyleNorm(c1)
        self.conv2 = ConvLayer(c1, c2, 3, 2)
        self.in2 = StyleNorm(c2)
        self.conv3 = ConvLayer(c2, c3, 3, 2)
        self.in3 = StyleNorm(c3)
        self.residual_names = [f"res{index}" for index in range(1, residual_blocks + 1)]  # pytorch/examples' keys
        for name in self.residual_names:
            self.add_module(name, ResidualBlock(c3))
        self.deconv1 = UpsampleConvLayer(c3, c2, 3, upsample=2)
        self.in4 = StyleNorm(c2)
        self.deconv2 = UpsampleConvLayer(c2, c1, 3, upsample=2)
        self.in5 = StyleNorm(c1)
        self.deconv3 = ConvLayer(c1, 3, end_kernel, 1)
        self.relu = nn.ReLU()

    @property
    def width(self) -> float:
        return self.architecture.width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        for name in self.residual_names:
            y = getattr(self, name)(y)
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


class LiteNet(nn.Module):
    """The style network made for CPUs: :class:`TransformerNet`'s shape, but its first and last
    layers work on 2×2 pixel blocks at half resolution (on few channels, CPU kernels run far below
    the machine's speed), and its residual blocks are depthwise-separable.

    Its middle layers (:data:`LAYERS_OF_JOHNSON`) are :class:`TransformerNet`'s own, so training
    can start them from a style of the same width.
    """

    LAYERS_OF_JOHNSON = ("conv3", "in3", "deconv1", "in4")

    def __init__(self, width: float = 0.25, end_kernel: int = END_KERNELS["lite"], residual_blocks: int = 5) -> None:
        super().__init__()
        self.architecture = Architecture(width, end_kernel, residual_blocks, "lite")
        c2 = 2 * max(1, round(BASE_CHANNELS * width))
        c3 = 2 * c2
        self.block_in = ConvLayer(3 * PIXEL_BLOCK**2, c2, end_kernel, 1)
        self.in2 = StyleNorm(c2)
        self.conv3 = ConvLayer(c2, c3, 3, 2)
        self.in3 = StyleNorm(c3)
        self.residual_names = [f"res{index}" for index in range(1, residual_blocks + 1)]
        for name in self.residual_names:
            self.add_module(name, ResidualBlock(c3, separable=True))
        self.deconv1 = UpsampleConvLayer(c3, c2, 3, upsample=2)
        self.in4 = StyleNorm(c2)
        self.block_out = ConvLayer(c2, 3 * PIXEL_BLOCK**2, end_kernel, 1)
        self.relu = nn.ReLU()
        with torch.no_grad():
            self.block_out.conv2d.bias.fill_(127.5)  # an untrained network paints mid-grey, not black

    @property
    def width(self) -> float:
        return self.architecture.width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.in2(self.block_in(F.pixel_unshuffle(x, PIXEL_BLOCK))))
        y = self.relu(self.in3(self.conv3(y)))
        for name in self.residual_names:
            y = getattr(self, name)(y)
        y = self.relu(self.in4(self.deconv1(y)))
        return F.pixel_shuffle(self.block_out(y), PIXEL_BLOCK)


StyleNet = TransformerNet | LiteNet


def build_network(architecture: Architecture) -> StyleNet:
    """An untrained network of this architecture."""
    a = architecture
    if a.kind == "lite":
        return LiteNet(a.width, a.end_kernel, a.residual_blocks)
    return TransformerNet(a.width, a.end_kernel, a.residual_blocks)


def norm_layers(net: nn.Module) -> list[StyleNorm]:
    return [m for m in net.modules() if isinstance(m, StyleNorm)]


def architecture_from_state_dict(state: dict[str, torch.Tensor]) -> Architecture:
    """The architecture a style file's tensors were made for: the kind from its first layer's
    name, the channel multiplier and the end kernel from that layer, the residual blocks from the
    ``resN`` keys.  A file that says too little gets the original's values (and then fails the
    key and shape checks)."""
    kind, weight, channels = "johnson", state.get("conv1.conv2d.weight"), BASE_CHANNELS
    if "block_in.conv2d.weight" in state:
        kind, weight, channels = "lite", state["block_in.conv2d.weight"], 2 * BASE_CHANNELS
    width, end_kernel = 1.0, Architecture.end_kernel
    if weight is not None and weight.ndim == 4 and weight.shape[0] > 0:
        width, end_kernel = weight.shape[0] / channels, weight.shape[-1]
    blocks = 0
    while f"res{blocks + 1}.in1.weight" in state:
        blocks += 1
    return Architecture(width, end_kernel, blocks or Architecture.residual_blocks, kind)


# Per instance norm, in network order: mean then variance (each 1×C×1×1, fp32).
Stats = tuple[torch.Tensor, ...]


class FullFrameGraph(nn.Module):
    """The network on a whole frame, returning the painting and every instance norm's statistics.

    A plain function of its input, so an inference engine can compile it as one graph.
    """

    def __init__(self, net: StyleNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        norms = norm_layers(self.net)
        for norm in norms:
            norm.frozen, norm.recording = None, True
        try:
            y = self.net(x)
        finally:
            for norm in norms:
                norm.recording = False
        stats: list[torch.Tensor] = []
        for norm in norms:
            assert norm.recorded is not None
            stats.extend(norm.recorded)
        return (y, *stats)


class RegionGraph(nn.Module):
    """The network on a crop, normalized with the statistics a :class:`FullFrameGraph` returned."""

    def __init__(self, net: StyleNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, *stats: torch.Tensor) -> torch.Tensor:
        norms = norm_layers(self.net)
        for index, norm in enumerate(norms):
            norm.frozen = (stats[2 * index], stats[2 * index + 1])
        try:
            return self.net(x)
        finally:
            for norm in norms:
                norm.frozen = None
