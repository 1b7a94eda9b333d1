"""The style network reproduces pytorch/examples and accepts the files found in the wild."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fdstyle_core.engine.network import Architecture, BlockedConvLayer, ConvLayer, LiteNet, TransformerNet, build_network
from fdstyle_core.engine.pipeline import Pipeline, PipelineConfig
from fdstyle_core.engine.styles import load_network, read_state_dict
from fdstyle_core.errors import StyleError
from tests.conftest import read_rgb

REFERENCES = [("candy", "candy"), ("mosaic", "mosaic"), ("rain_princess", "rain-princess"), ("udnie", "udnie")]


@pytest.mark.parametrize("style,reference", REFERENCES)
def test_reproduces_pytorch_examples_outputs(data_dir: Path, style: str, reference: str) -> None:
    content = read_rgb(data_dir / "models" / "reference" / "amber.jpg")
    expected = read_rgb(data_dir / "models" / "reference" / f"amber-{reference}.jpg")
    pipeline = Pipeline(PipelineConfig(style=str(data_dir / "models" / "pytorch_examples" / f"{style}.pth"), mode="perframe"))
    out = pipeline.process(content)
    assert out.shape == expected.shape
    mae = np.abs(out.astype(np.float32) - expected.astype(np.float32)).mean()
    assert mae <= 12.0, f"{style}: mean absolute error {mae:.2f}"


def test_keys_match_pytorch_examples() -> None:
    keys = list(TransformerNet().state_dict())
    assert keys[:2] == ["conv1.conv2d.weight", "conv1.conv2d.bias"]
    assert "in1.weight" in keys and "res1.conv1.conv2d.weight" in keys and keys[-1] == "deconv3.conv2d.bias"
    assert len(keys) == 62


@pytest.mark.parametrize(
    "architecture", [Architecture(0.25, 5, 5), Architecture(0.5, 3, 2), Architecture(), Architecture(0.25, 3, 5, "lite"), Architecture(0.5, 5, 3, "lite")]
)
def test_a_style_file_says_its_architecture(architecture: Architecture, tmp_path: Path) -> None:
    """Kinds, widths, end kernels and residual blocks are read off the tensors: no extra keys, so the
    files stay pytorch/examples' format."""
    torch.save(build_network(architecture).state_dict(), tmp_path / "style.pth")
    net = load_network(tmp_path / "style.pth")
    assert net.architecture == architecture
    assert net(torch.rand(1, 3, 36, 44) * 255).shape == (1, 3, 36, 44)


def test_an_even_end_kernel_is_refused_with_a_reason(tmp_path: Path) -> None:
    state = TransformerNet(0.25).state_dict()
    state["conv1.conv2d.weight"] = torch.zeros(8, 3, 4, 4)
    torch.save(state, tmp_path / "odd.pth")
    with pytest.raises(StyleError, match="odd.pth is not a fast_neural_style model: end kernel 4 is not an odd number"):
        read_state_dict(tmp_path / "odd.pth")


def test_old_files_with_running_stats_and_fp32_values_load(candy: Path, tmp_path: Path) -> None:
    state = {k: v.float() for k, v in torch.load(candy, weights_only=True).items()}
    for norm in ("in1", "in2", "res1.in1"):
        state[f"{norm}.running_mean"] = torch.zeros(state[f"{norm}.weight"].shape)
        state[f"{norm}.running_var"] = torch.ones(state[f"{norm}.weight"].shape)
    old = tmp_path / "old.pth"
    torch.save(state, old)
    loaded = read_state_dict(old)
    assert not any("running" in k for k in loaded)
    assert all(v.dtype == torch.float32 for v in loaded.values())


@pytest.mark.parametrize("height,width", [(1, 1), (7, 5), (33, 47), (101, 64), (2, 300)])
def test_any_frame_size_keeps_its_shape(candy: Path, height: int, width: int) -> None:
    pipeline = Pipeline(PipelineConfig(style=str(candy), mode="perframe"))
    frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    assert pipeline.process(frame).shape == (height, width, 3)


def test_rgba_and_grey_frames(candy: Path) -> None:
    pipeline = Pipeline(PipelineConfig(style=str(candy), mode="paper"))
    rgba = np.full((40, 60, 4), 100, np.uint8)
    rgba[:, :, 3] = 77
    out = pipeline.process(rgba)
    assert out.shape == (40, 60, 3)  # the alpha is the host's business
    assert pipeline.process(np.full((40, 60), 128, np.uint8)).shape == (40, 60, 3)


def test_processing_height_composes_at_full_size(candy: Path, data_dir: Path) -> None:
    content = read_rgb(data_dir / "models" / "reference" / "amber.jpg")[::4, ::4]
    full = Pipeline(PipelineConfig(style=str(candy), mode="perframe")).process(content)
    small = Pipeline(PipelineConfig(style=str(candy), mode="perframe", processing_height=128)).process(content)
    assert small.shape == full.shape
    # same painting, coarser strokes: close in colour, not identical
    assert 0 < np.abs(small.astype(float) - full.astype(float)).mean() < 40


def test_network_is_inference_only(candy: Path) -> None:
    net = load_network(candy)
    assert not net.training and not any(p.requires_grad for p in net.parameters())


@pytest.mark.parametrize("factor", [2, 4])
@pytest.mark.parametrize("channels", [(8, 3), (3, 8)])
@pytest.mark.parametrize("kernel", [9, 5])
def test_a_layer_on_pixel_blocks_computes_the_same_convolution(factor: int, channels: tuple[int, int], kernel: int) -> None:
    torch.manual_seed(0)
    layer = ConvLayer(*channels, kernel_size=kernel, stride=1)
    x = torch.rand(1, channels[0], 36, 52) * 255
    with torch.no_grad():
        expected, blocked = layer(x), BlockedConvLayer(layer, factor)(x)
    assert blocked.shape == expected.shape
    assert (blocked - expected).abs().max() < 1e-3 * expected.abs().max()


def test_layers_without_a_block_form_are_refused() -> None:
    with pytest.raises(ValueError, match="no 2×2 block form"):
        BlockedConvLayer(ConvLayer(8, 8, 3, stride=2), 2)


def test_the_lite_network_paints_nothing_at_full_resolution_and_shares_the_middle_layers() -> None:
    """Every LiteNet convolution but the pixel-block ones sees at most half the frame's pixels, its
    residual blocks are depthwise-separable, and the layers it shares with Johnson's are the same shape."""
    lite, johnson = LiteNet(0.25), TransformerNet(0.25)
    sizes: dict[str, int] = {}
    for name, module in lite.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(lambda m, i, o, name=name: sizes.__setitem__(name, o.shape[-1]))
    assert lite(torch.rand(1, 3, 64, 96) * 255).shape == (1, 3, 64, 96)
    assert max(sizes.values()) == 48 and sizes["res1.conv1.depthwise"] == 24
    assert lite.res1.conv1.depthwise.groups == 32
    johnson_state = johnson.state_dict()
    for key, tensor in lite.state_dict().items():
        if key.split(".")[0] in LiteNet.LAYERS_OF_JOHNSON:
            assert johnson_state[key].shape == tensor.shape, key
    untrained = lite(torch.zeros(1, 3, 32, 32))
    assert (untrained - 127.5).abs().max() < 40  # starts near mid-grey
