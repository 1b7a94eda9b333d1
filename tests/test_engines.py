"""The inference engines: OpenVINO paints what torch paints, and torch takes over when it cannot."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fdstyle_core.engine.inference import openvino_engine
from fdstyle_core.engine.inference.openvino_engine import OpenVINOEngine
from fdstyle_core.engine.inference.torch_engine import TorchEngine
from fdstyle_core.engine.painter import Painter
from fdstyle_core.engine.pipeline import Pipeline, PipelineConfig
from fdstyle_core.engine.selection import TORCH_DEFAULT_THREADS, choose_engine, host_threads
from fdstyle_core.engine.styles import default_style, load_network
from fdstyle_core.errors import FdstyleError
from fdstyle_core.io.video import read_image
from tests.conftest import read_clip

CPU = torch.device("cpu")
BOXES = [(40, 150, 60, 210), (0, 64, 0, 96), (180, 256, 200, 320)]  # inside, top-left corner, bottom-right edge


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test converts afresh into its own cache folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _amber(data_dir: Path) -> torch.Tensor:
    image = read_image(data_dir / "models" / "reference" / "amber.jpg")[:256, :320]
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()


def _shipped(device_class: str = "cpu") -> Path:
    style = default_style(device_class)
    assert style is not None
    return style.path


@pytest.mark.parametrize("processing_height", [0, 200])
def test_openvino_paints_what_torch_paints_full_frames_and_regions(candy: Path, data_dir: Path, processing_height: int) -> None:
    frame = _amber(data_dir)
    for style in (candy, _shipped(), _shipped("gpu")):  # the 9×9 full width, the lite, the 5×5 slim
        net = load_network(style)
        exact, fast = Painter(TorchEngine(net, CPU), processing_height), Painter(OpenVINOEngine(net), processing_height)
        with torch.inference_mode():
            pairs = [(exact(frame), fast(frame))]
            pairs += zip(exact.regions(frame, BOXES), fast.regions(frame, BOXES))
        for expected, got in pairs:
            assert expected.shape == got.shape
            assert (expected.round() - got.round()).abs().max() <= 1, style.name


def test_openvino_regions_follow_each_new_full_pass(data_dir: Path) -> None:
    """The region graph keeps its statistics bound between passes: a new full pass's must replace them,
    for windows of any size."""
    frame = _amber(data_dir)
    other = (255 - frame).flip(-1)  # other statistics
    net = load_network(_shipped())
    exact, fast = TorchEngine(net, CPU), OpenVINOEngine(net)
    windows = [(40, 136, 64, 224), (0, 64, 0, 96)]
    painted = []
    with torch.inference_mode():
        for source in (frame, other, frame):
            exact_stats, fast_stats = exact.full(source)[1], fast.full(source)[1]
            for y0, y1, x0, x1 in windows:
                crop = frame[:, :, y0:y1, x0:x1].contiguous()
                expected, got = exact.region(crop, exact_stats), fast.region(crop, fast_stats)
                assert (expected.round() - got.round()).abs().max() <= 1
                painted.append(got)
    assert (painted[0] - painted[2]).abs().mean() > 5  # the statistics changed the painting
    assert torch.equal(painted[0], painted[4])


def test_the_plain_pass_paints_what_the_full_pass_paints(data_dir: Path) -> None:
    """Modes that never paint regions run the network without its statistics; the painting is the same."""
    frame = _amber(data_dir)
    net = load_network(_shipped())
    with torch.inference_mode():
        expected = TorchEngine(net, CPU).full(frame)[0]
        for engine in (TorchEngine(net, CPU), OpenVINOEngine(net)):
            assert (engine.plain(frame).round() - expected.round()).abs().max() <= 1, engine.label


@pytest.mark.parametrize("mode", ["reference", "paper", "perframe", "flow"])
def test_only_modes_that_paint_regions_record_statistics(mode: str) -> None:
    frame = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    live = Pipeline(PipelineConfig(style=str(_shipped()), mode=mode))
    live.process(frame)
    assert live.painter.has_statistics == (mode == "reference")
    asked = Pipeline(PipelineConfig(style=str(_shipped()), mode=mode), statistics=True)  # as eval asks
    asked.process(frame)
    assert asked.painter.has_statistics


@pytest.mark.usefixtures("costs_by_pixels")
def test_the_default_mode_on_openvino_follows_torch_on_a_talking_clip(data_dir: Path) -> None:
    frames = read_clip(data_dir / "videos" / "talking" / "retalking_1.mp4", 10, (320, 240))
    exact = Pipeline(PipelineConfig(style=str(_shipped()), engine="torch"))
    fast = Pipeline(PipelineConfig(style=str(_shipped()), engine="openvino", precision="fp32"))
    assert fast.choice.engine.name == "openvino" and not fast.choice.notice
    region_passes = 0
    for frame in frames:
        difference = np.abs(exact.process(frame).astype(int) - fast.process(frame).astype(int))
        assert difference.max() <= 1
        region_passes += fast.last_work.region_passes
    assert region_passes > 0  # region passes with frozen statistics were compared too


def test_auto_runs_openvino_on_the_cpu(candy: Path) -> None:
    choice = choose_engine(load_network(candy))
    assert choice.engine.name == "openvino" and choice.engine.precision in ("fp32", "bf16")
    assert choice.reason.startswith("auto") and not choice.notice


def test_torch_works_on_one_thread_beside_openvino_on_the_cpu(candy: Path) -> None:
    """Torch's spinning OpenMP threads would take the cores OpenVINO's threads need next."""
    net = load_network(candy)
    assert host_threads(OpenVINOEngine(net, "cpu", "fp32", threads=2), 2) == 1
    assert host_threads(TorchEngine(net, CPU), 2) == 2
    assert host_threads(TorchEngine(net, CPU), 0) == TORCH_DEFAULT_THREADS
    Pipeline(PipelineConfig(style=str(candy), engine="openvino", threads=2))
    assert torch.get_num_threads() == 1
    Pipeline(PipelineConfig(style=str(candy), engine="torch", threads=2))
    assert torch.get_num_threads() == 2


def test_a_failing_openvino_leaves_torch_painting_with_one_notice(candy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> object:
        raise RuntimeError("Exception from src/plugins/intel_cpu: unsupported node")

    monkeypatch.setattr(openvino_engine, "OpenVINOEngine", broken)
    pipeline = Pipeline(PipelineConfig(style=str(candy), engine="openvino"))
    assert pipeline.choice.engine.name == "torch" and "unsupported node" in pipeline.choice.notice
    frame = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    assert pipeline.process(frame).shape == frame.shape


def test_without_openvino_installed_torch_paints(candy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # "import openvino" raises ImportError
    openvino_engine._core.cache_clear()
    try:
        assert not openvino_engine.installed() and openvino_engine.available_devices() == []
        choice = choose_engine(load_network(candy))
        assert choice.engine.name == "torch" and "OpenVINO unavailable (ModuleNotFoundError" in choice.notice
    finally:
        openvino_engine._core.cache_clear()


def test_devices_the_machine_lacks_are_clear_errors(candy: Path) -> None:
    net = load_network(candy)
    with pytest.raises(FdstyleError, match="needs the openvino engine"):
        choose_engine(net, device="intel-gpu", engine="torch")
    if "npu" not in openvino_engine.available_devices():
        with pytest.raises(FdstyleError, match="not available here"):
            choose_engine(net, device="npu")
    with pytest.raises(FdstyleError, match="unknown engine"):
        choose_engine(net, engine="tensorrt")


def test_compiled_sizes_and_converted_graphs_are_kept(candy: Path, tmp_path: Path) -> None:
    net = load_network(candy)
    engine = OpenVINOEngine(net)
    small, large = torch.rand(1, 3, 32, 48) * 255, torch.rand(1, 3, 64, 64) * 255
    engine.full(small)
    first = engine._request("full", 32, 48)
    engine.full(large)
    assert engine._request("full", 32, 48) is first  # a size seen before compiles nothing
    assert len(list((tmp_path / "cache" / "fdstyle" / "openvino" / "graphs").glob("*.xml"))) == 3  # plain, full, region
    again = OpenVINOEngine(net)  # read back from the cache
    assert torch.equal(again.full(small)[0], engine.full(small)[0])


def test_switching_styles_back_reuses_the_built_engine(candy: Path) -> None:
    pipeline = Pipeline(PipelineConfig(style=str(candy)))
    first = pipeline.choice
    pipeline.configure(PipelineConfig(style=str(_shipped())))
    assert pipeline.choice is not first
    pipeline.configure(PipelineConfig(style=str(candy)))
    assert pipeline.choice is first


def test_regions_of_ever_new_sizes_do_not_grow_memory_without_end(candy: Path) -> None:
    def rss_mib() -> float:
        status = Path("/proc/self/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024

    engine = OpenVINOEngine(load_network(_shipped()))
    frame = torch.rand(1, 3, 240, 320) * 255
    _, stats = engine.full(frame)
    rng = np.random.default_rng(0)
    sizes = [(int(h), int(w)) for h, w in zip(rng.integers(10, 60, 240) * 4, rng.integers(10, 80, 240) * 4)]
    for height, width in sizes[:60]:
        engine.region(frame[:, :, :height, :width].contiguous(), stats)
    settled = rss_mib()
    for height, width in sizes[60:]:
        engine.region(frame[:, :, :height, :width].contiguous(), stats)
    assert rss_mib() - settled < 40  # the CPU plugin's default cache grew ~0.8 MB a new size: ~140 MB here


def test_an_openvino_that_fails_on_its_first_pass_leaves_torch_painting(candy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_pass(self: OpenVINOEngine, x: torch.Tensor) -> object:
        raise RuntimeError("Exception from src/inference/src/cpp/core.cpp: GPU driver lost")

    monkeypatch.setattr(OpenVINOEngine, "full", broken_pass)
    choice = choose_engine(load_network(candy), engine="openvino", precision="fp32")
    assert choice.engine.name == "torch" and "GPU driver lost" in choice.notice


def test_only_a_timed_pipeline_waits_for_the_device(candy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Live frames let a GPU run ahead; bench and eval wait between stages to time each one."""
    waits: list[torch.device] = []
    for module in ("fdstyle_core.engine.painter", "fdstyle_core.engine.pipeline"):
        monkeypatch.setattr(f"{module}.synchronize", waits.append)
    frame = np.zeros((64, 96, 3), np.uint8)
    live = Pipeline(PipelineConfig(style=str(candy), mode="perframe", engine="torch"))
    live.process(frame)
    assert waits == [] and live.last_work.passes == 1
    timed = Pipeline(PipelineConfig(style=str(candy), mode="perframe", engine="torch"), timed=True)
    timed.process(frame)
    assert len(waits) == 3 and timed.last_work.passes == 1 and timed.timings["network"] > 0
