"""Untrusted style files are refused with a message that names the problem, and reconfiguring a
running pipeline (a bad style, a failing device, a slider) keeps what it can."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from fdstyle_core.errors import StyleError
from fdstyle_core.engine.pipeline import Pipeline, PipelineConfig
from fdstyle_core.stabilizers.base import MaskParams
from fdstyle_core.engine.styles import find_styles, read_state_dict, resolve_style


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
