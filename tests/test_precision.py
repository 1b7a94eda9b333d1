"""GPU numerics on CI's CPU: half precisions paint what fp32 paints, full frames and regions alike.

A CPU without native half-precision kernels (AVX2 only) runs fp16 and bf16 convolutions about 300
times slower than fp32, so these checks keep the frames small; the overflow they guard against is
per value (an activation squared past fp16's range), not a matter of frame size."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fdstyle_core.engine.devices import is_device_failure
from fdstyle_core.engine.inference.torch_engine import TorchEngine
from fdstyle_core.engine.painter import Painter
from fdstyle_core.engine.pipeline import Pipeline, PipelineConfig
from fdstyle_core.engine.precision import choose_precision, painting_error
from fdstyle_core.engine.styles import load_network
from fdstyle_core.io.video import open_source, read_image

BOX = (12, 36, 16, 52)
SIDE = 64
REPO = Path(__file__).resolve().parents[1]
SLIM_STYLE = REPO / "models" / "starry_night.pth"  # a width-0.25 network: the check's 256 px passes stay cheap


def _frame(data_dir: Path) -> torch.Tensor:
    image = read_image(data_dir / "models" / "reference" / "amber.jpg")[:256, :256]
    image = cv2.resize(image, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()


CPU = torch.device("cpu")


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precision_full_and_region_passes_match_fp32(candy: Path, data_dir: Path, precision: str) -> None:
    frame = _frame(data_dir)
    net = load_network(candy)
    with torch.inference_mode():
        reference = Painter(TorchEngine(net, CPU), 0)(frame)
        half = Painter(TorchEngine(net, CPU, precision), 0)
        full = half(frame)
        region = half.regions(frame, [BOX])[0]
    y0, y1, x0, x1 = BOX
    assert (full - reference).abs().mean() < 2
    assert (region - reference[:, :, y0:y1, x0:x1]).abs().mean() < 2  # inf variances gave 85 levels


def test_reference_mode_in_fp16_follows_fp32_on_a_talking_clip(candy: Path, data_dir: Path) -> None:
    frames = []
    source = open_source(str(data_dir / "videos" / "talking" / "retalking_1.mp4"))
    try:
        for frame in source.frames():
            frames.append(np.ascontiguousarray(frame[::10, ::10]))
            if len(frames) == 8:
                break
    finally:
        source.close()
    exact = Pipeline(PipelineConfig(style=str(candy), device="cpu", engine="torch", precision="fp32"))
    half = Pipeline(PipelineConfig(style=str(candy), device="cpu", engine="torch", precision="fp16"))
    for frame in frames:
        difference = np.abs(exact.process(frame).astype(float) - half.process(frame).astype(float))
        assert difference.mean() < 2


def test_the_precision_check_leaves_the_weights_exact() -> None:
    net = load_network(SLIM_STYLE)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    mean, worst = painting_error(TorchEngine(net, CPU, "fp16"), TorchEngine(net, CPU))
    assert np.isfinite(mean) and mean < 2 and worst < 255
    assert all(torch.equal(before[k], v) and v.dtype == torch.float32 for k, v in net.state_dict().items())


def test_auto_precision_keeps_the_first_candidate_that_paints_like_fp32() -> None:
    net = load_network(SLIM_STYLE)

    def make(name: str) -> TorchEngine:
        return TorchEngine(net, CPU, name)

    def exact() -> TorchEngine:
        return TorchEngine(net, CPU)

    assert choose_precision("auto", ("fp16", "bf16"), make, exact)[0].precision == "fp16"
    assert choose_precision("bf16", ("fp16",), make, exact)[0].precision == "bf16"
    assert choose_precision("auto", (), make, exact)[0].precision == "fp32"


def test_a_precision_that_paints_wrongly_is_refused() -> None:
    net = load_network(SLIM_STYLE)
    broken = TorchEngine(load_network(SLIM_STYLE), CPU, "fp16")
    with torch.no_grad():
        broken._full.net.deconv3.conv2d.bias.add_(40)  # the "half precision" paints another picture

    def make(name: str) -> TorchEngine:
        return broken if name == "fp16" else TorchEngine(net, CPU)

    engine, reason = choose_precision("auto", ("fp16",), make, lambda: TorchEngine(net, CPU))
    assert engine.precision == "fp32" and "fp16 off by" in reason


def test_only_real_device_failures_leave_the_gpu() -> None:
    gpu = torch.device("cuda")
    assert is_device_failure(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"), gpu)
    assert is_device_failure(RuntimeError("CUDA error: an illegal memory access was encountered"), gpu)
    assert not is_device_failure(NotImplementedError("aten::_upsample_bilinear2d_aa is not implemented for MPS"), gpu)
    assert not is_device_failure(RuntimeError("shape '[1, 3]' is invalid for input of size 4"), gpu)
    assert not is_device_failure(RuntimeError("CUDA error: out of memory"), torch.device("cpu"))
