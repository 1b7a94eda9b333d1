"""Untrusted style files are refused with a message that names the problem, and reconfiguring a
running pipeline (a bad style, a failing device, a slider) keeps what it can."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fdstyle_core.errors import StyleError
from fdstyle_core.engine.pipeline import Pipeline, PipelineConfig
from fdstyle_core.stabilizers.base import MaskParams
from fdstyle_core.cli.main import main
from fdstyle_core.engine.devices import available_devices
from fdstyle_core.engine.network import LiteNet, TransformerNet
from fdstyle_core.engine.selection import device_class
from fdstyle_core.engine.manifest import DEVICE_CLASSES, read_entries, record_entry
from fdstyle_core.engine.styles import default_style, find_styles, read_state_dict, resolve_style, variant_for


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StyleError, match="not found"):
        read_state_dict(tmp_path / "nope.pth")


def test_corrupt_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"this is not a torch file")
    with pytest.raises(StyleError, match="cannot read style file bad.pth"):
        read_state_dict(bad)


def test_wrong_keys_are_named(candy: Path, tmp_path: Path) -> None:
    state = torch.load(candy, weights_only=True)
    state["extra.weight"] = torch.zeros(1)
    del state["deconv3.conv2d.bias"]
    wrong = tmp_path / "wrong.pth"
    torch.save(state, wrong)
    with pytest.raises(StyleError, match=r"missing deconv3\.conv2d\.bias; unexpected extra\.weight"):
        read_state_dict(wrong)


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):  # would run code if unpickled
            return (print, ("pwned",))

    evil = tmp_path / "evil.pth"
    with evil.open("wb") as fh:
        pickle.dump({"conv1.conv2d.weight": Payload()}, fh)
    with pytest.raises(StyleError, match="cannot read style file evil.pth"):
        read_state_dict(evil)


def test_non_mapping_is_refused(tmp_path: Path) -> None:
    odd = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], odd)
    with pytest.raises(StyleError, match="not a state dict"):
        read_state_dict(odd)


def test_unknown_name() -> None:
    with pytest.raises(StyleError, match="unknown style 'no-such-style'"):
        resolve_style("no-such-style")


def test_bad_style_keeps_the_last_good_one_running(candy: Path, tmp_path: Path) -> None:
    pipeline = Pipeline(PipelineConfig(style=str(candy), mode="perframe"))
    frame = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    before = pipeline.process(frame)
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"junk")
    with pytest.raises(StyleError):
        pipeline.configure(PipelineConfig(style=str(bad), mode="perframe"))
    assert pipeline.style_path == candy
    assert np.array_equal(pipeline.process(frame), before)


def test_a_device_that_fails_to_start_leaves_the_running_network_alone(
    candy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GPU that fails during set-up (here: the fp16 check) must not take the running network with it."""
    pipeline = Pipeline(PipelineConfig(style=str(candy), mode="perframe", device="cpu"))
    frame = np.random.default_rng(2).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    before = pipeline.process(frame)

    def broken_gpu(*args: object) -> object:
        raise RuntimeError("CUDA error: out of memory")

    monkeypatch.setattr("fdstyle_core.engine.pipeline.choose_engine", broken_gpu)
    with pytest.raises(RuntimeError, match="out of memory"):
        pipeline.configure(PipelineConfig(style=str(candy), mode="perframe", device="cuda"))
    assert np.array_equal(pipeline.process(frame), before)


def test_a_slider_change_keeps_the_painter_and_its_statistics(candy: Path) -> None:
    """Moving the threshold slider must not force a full-frame pass (statistics re-measured)."""
    pipeline = Pipeline(PipelineConfig(style=str(candy)))
    pipeline.process(np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    painter = pipeline.painter
    pipeline.configure(PipelineConfig(style=str(candy), mask=MaskParams(threshold=30)))
    assert pipeline.painter is painter and painter.has_statistics
    pipeline.configure(PipelineConfig(style=str(candy), mask=MaskParams(threshold=30), processing_height=16))
    assert pipeline.painter is not painter


@pytest.mark.parametrize("manifest", ['["not", "an", "object"]', '{"styles": {"a": 1}}', "{broken", '{"styles": [1, {"x": 2}]}'])
def test_a_damaged_user_manifest_still_lists_the_styles(
    candy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, manifest: str
) -> None:
    (tmp_path / "mine.pth").write_bytes(candy.read_bytes())
    (tmp_path / "styles.json").write_text(manifest)
    monkeypatch.setenv("FDSTYLE_STYLES", str(tmp_path))
    names = {style.name for style in find_styles()}
    assert "mine" in names and "starry_night" in names
    assert resolve_style("mine") == tmp_path / "mine.pth"


def test_a_style_file_deleted_while_painting_keeps_the_painting_and_names_the_problem(candy: Path, tmp_path: Path) -> None:
    style = tmp_path / "mine.pth"
    style.write_bytes(candy.read_bytes())
    pipeline = Pipeline(PipelineConfig(style=str(style), mode="perframe"))
    frame = np.random.default_rng(4).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    before = pipeline.process(frame)
    style.unlink()
    with pytest.raises(StyleError, match="not found"):
        pipeline.configure(PipelineConfig(style=str(style), mode="reference"))
    assert np.array_equal(pipeline.process(frame), before)


@pytest.fixture
def sketch_with_full_variant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user style folder holding a slim style, its full-width variant and its lite one, as a manifest describes them."""
    monkeypatch.setenv("FDSTYLE_STYLES", str(tmp_path))
    for name, width in (("sketch", 0.25), ("sketch_full", 1.0)):
        torch.save(TransformerNet(width).state_dict(), tmp_path / f"{name}.pth")
    torch.save(LiteNet(0.25).state_dict(), tmp_path / "sketch_lite.pth")
    entries = [
        {"name": "sketch", "display_name": "Sketch", "variant": "fast", "default_for": ["cpu"]},
        {"name": "sketch_full", "display_name": "Sketch", "variant": "full", "variant_of": "sketch", "default_for": ["gpu"]},
        {"name": "sketch_lite", "display_name": "Sketch", "variant": "lite", "variant_of": "sketch"},
    ]
    (tmp_path / "styles.json").write_text(json.dumps({"styles": entries}))
    return tmp_path


def test_a_gpu_runs_the_full_variant_of_the_style_picked_and_a_cpu_the_fast_one(sketch_with_full_variant: Path) -> None:
    assert variant_for("sketch", "gpu") == "sketch_full"
    assert variant_for("sketch", "cpu") == "sketch"
    assert variant_for("sketch_full", "cpu") == "sketch_full"  # picked by its own name: the user's choice
    path = str(sketch_with_full_variant / "sketch.pth")
    assert variant_for(path, "gpu") == path  # a file given by path runs as given
    assert variant_for("sketch", "cpu") == "sketch" and variant_for("sketch_lite", "gpu") == "sketch_lite"  # a lite one only by its name
    labels = {s.name: s.label for s in find_styles()}
    assert labels["sketch_full"] == "Sketch (full, for GPUs)" and labels["sketch"] == "Sketch"
    assert labels["sketch_lite"] == "Sketch (lite, fastest on CPUs)"
    pipeline = Pipeline(PipelineConfig(style="sketch", device="cpu"))
    assert pipeline.style_path is not None and pipeline.style_path.name == "sketch.pth"


def test_each_device_class_has_its_default_and_is_told_from_the_settings() -> None:
    assert device_class("cpu", "auto") == "cpu"
    assert device_class("auto", "openvino") == "cpu"
    assert device_class("npu", "auto") == "cpu"  # a laptop's chip: the fast variants
    gpu_here = available_devices()[0] in ("cuda", "mps")
    assert device_class("auto", "auto") == ("gpu" if gpu_here else "cpu")
    for kind in ("cpu", "gpu"):
        style = default_style(kind)
        assert style is not None and kind in style.default_for


def test_the_styles_list_says_which_is_the_full_variant(sketch_with_full_variant: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["styles"]) == 0
    listing = capsys.readouterr().out
    assert "Sketch (full, for GPUs) (default on gpu)" in listing
    assert "full variant" in listing
    assert "Sketch (lite, fastest on CPUs)" in listing and "lite variant" in listing


def test_the_style_distance_tool_tells_a_copy_from_another_style(data_dir: Path, tmp_path: Path) -> None:
    """tools/style_distance.py, which checks a distilled style against its teacher."""
    tool = Path(__file__).resolve().parent.parent / "tools" / "style_distance.py"

    def distance(first: str, second: str) -> float:
        done = subprocess.run(
            [sys.executable, str(tool), str(resolve_style(first)), str(resolve_style(second)), "--data", str(data_dir),
             "--sheet", str(tmp_path / "sheet.png")], capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return float(done.stdout.rsplit("mean ", 1)[1].split()[0])

    assert distance("starry_night", "starry_night") > 100  # identical paintings
    assert distance("starry_night", "the_scream") < 15
    assert cv2.imread(str(tmp_path / "sheet.png")).shape == (3 * 360, 2 * 640, 3)


def test_recording_a_style_keeps_its_defaults_and_default_flags_move_them(tmp_path: Path) -> None:
    record_entry(tmp_path, {"name": "sketch"}, DEVICE_CLASSES)  # the default style
    record_entry(tmp_path, {"name": "sketch_lite"}, ("cpu",))  # what CPUs start with
    entries = read_entries(tmp_path)
    assert entries["sketch"]["default"] and entries["sketch"]["default_for"] == ["gpu"]
    assert not entries["sketch_lite"]["default"] and entries["sketch_lite"]["default_for"] == ["cpu"]
    for name in ("sketch", "sketch_lite"):  # trained on, recorded again without flags: nothing moves
        record_entry(tmp_path, {"name": name, "steps": 2})
    assert read_entries(tmp_path) == {name: {**entry, "steps": 2} for name, entry in entries.items()}
    record_entry(tmp_path, {"name": "other"}, DEVICE_CLASSES)
    entries = read_entries(tmp_path)
    assert entries["other"]["default"] and entries["other"]["default_for"] == list(DEVICE_CLASSES)
    assert not any(entries[name]["default"] or entries[name]["default_for"] for name in ("sketch", "sketch_lite"))
