"""The perceptual loss of Johnson et al., with the style term taken at several image scales.

Every term is a mean squared error divided by the mean square of its target, so each one is
dimensionless and about 1 for an untrained network: the weights then say how much each term
matters, independent of layer sizes and of which VGG is used.

With the partial VGG19 the deepest style layer is relu3_1, whose receptive field is small, so
Gram matrices alone only carry fine texture.  Taking them again on the output and the painting
downsampled ×2 and ×4 (antialiased: average pooling left blocky artefacts) lets larger
structures such as swirls and brush strokes carry over; the coarse scales need much lower
weights or they overwhelm faces.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from fdstyle_core.errors import FdstyleError
from fdstyle_core.training.vgg import VGGFeatures


# Full weight at the painting's own scale; the coarse scales only nudge (equal weights erased faces).
DEFAULT_STYLE_SCALES = "1:1,2:0.2,4:0.05"


@dataclass(frozen=True)
class StyleScale:
    """Style loss on images downsampled by ``factor``, weighted by ``weight`` (relative to the total)."""

    factor: int
    weight: float


def parse_style_scales(text: str) -> tuple[StyleScale, ...]:
    """``"1:1,2:0.25,4:0.1"`` (factor:weight; a bare factor has weight 1)."""
    scales = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        factor_text, _, weight_text = part.partition(":")
        try:
            scale = StyleScale(int(factor_text), float(weight_text) if weight_text else 1.0)
        except ValueError:
            raise FdstyleError(f"bad style scale '{part}' (expected FACTOR[:WEIGHT], e.g. 2:0.25)") from None
        if scale.factor < 1 or scale.weight < 0:
            raise FdstyleError(f"bad style scale '{part}' (factor ≥ 1, weight ≥ 0)")
        scales.append(scale)
    if not scales or len({s.factor for s in scales}) != len(scales):
        raise FdstyleError(f"style scales '{text}' must list distinct factors, e.g. 1:1,2:0.25,4:0.1")
    return tuple(scales)


def gram(features: torch.Tensor) -> torch.Tensor:
    """Channel correlations normalized by C·H·W, in fp32 (bf16 sums lose too much)."""
    b, c, h, w = features.shape
    flat = features.float().reshape(b, c, h * w)
    return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)


def downsample(images: torch.Tensor, factor: int) -> torch.Tensor:
    """Antialiased bilinear downsampling by an integer factor (identity for 1), in fp32 (the
    antialiased kernel has no bf16 version on CPUs)."""
    if factor == 1:
        return images
    size = (max(1, images.shape[-2] // factor), max(1, images.shape[-1] // factor))
    return F.interpolate(images.float(), size=size, mode="bilinear", antialias=True, align_corners=False)


def relative_mse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error divided by the target's mean square (dimensionless)."""
    prediction, target = prediction.float(), target.float()
    return F.mse_loss(prediction, target.expand_as(prediction)) / target.pow(2).mean().clamp_min(1e-12)


class PerceptualLoss(torch.nn.Module):
    """Content loss at one VGG layer, Gram style loss at several layers and scales, optional TV."""

    def __init__(
        self,
        vgg: VGGFeatures,
        painting: torch.Tensor,
        content_layer: str,
        style_layers: list[str],
        scales: tuple[StyleScale, ...],
        content_weight: float,
        style_weight: float,
        tv_weight: float,
    ) -> None:
        super().__init__()
        self.vgg = vgg
        self.content_layer = content_layer
        self.style_layers = list(style_layers)
        self.scales = scales
        self.content_weight, self.style_weight, self.tv_weight = content_weight, style_weight, tv_weight
        with torch.no_grad():
            for scale in scales:
                features = vgg(downsample(painting, scale.factor))
                for layer in self.style_layers:
                    self.register_buffer(self._target_name(scale, layer), gram(features[layer]), persistent=False)

    @staticmethod
    def _target_name(scale: StyleScale, layer: str) -> str:
        return f"gram_x{scale.factor}_{layer}"

    def forward(self, output: torch.Tensor, content: torch.Tensor) -> dict[str, torch.Tensor]:
        """Weighted loss terms by name (``content``, ``style_x1``, ``style_x2``…, ``tv``)."""
        terms: dict[str, torch.Tensor] = {}
        by_factor: dict[int, dict[str, torch.Tensor]] = {}

        def features(factor: int) -> dict[str, torch.Tensor]:
            if factor not in by_factor:
                by_factor[factor] = self.vgg(downsample(output, factor))
            return by_factor[factor]

        if self.content_weight:
            with torch.no_grad():
                target = self.vgg(content)[self.content_layer]
            terms["content"] = self.content_weight * relative_mse(features(1)[self.content_layer], target)
        for scale in self.scales:
            found = features(scale.factor)
            term = sum(
                relative_mse(gram(found[layer]), getattr(self, self._target_name(scale, layer)))
                for layer in self.style_layers
            )
            terms[f"style_x{scale.factor}"] = self.style_weight * scale.weight * term
        if self.tv_weight:
            terms["tv"] = self.tv_weight * total_variation(output)
        return terms


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels on the 0–1 scale (smooths speckle)."""
    x = images.float() / 255.0
    return (x[..., 1:, :] - x[..., :-1, :]).pow(2).mean() + (x[..., :, 1:] - x[..., :, :-1]).pow(2).mean()
