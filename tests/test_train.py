"""Training: the VGG loss network, the multi-scale perceptual loss, the train command, resume,
slim widths, distillation, and the styles shipped in models/."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fdstyle_core.cli import train as train_cmd
from fdstyle_core.cli.main import COMMANDS
from fdstyle_core.engine.network import Architecture, TransformerNet
from fdstyle_core.errors import FdstyleError
from fdstyle_core.training.perceptual import PerceptualLoss, StyleScale, parse_style_scales
from fdstyle_core.engine.manifest import DEVICE_CLASSES, REQUIRED_FIELDS, find_entry, read_entries, record_entry
from fdstyle_core.engine.styles import PROJECT_MODELS_DIR, load_network, read_state_dict
from fdstyle_core.training.trainer import TrainConfig, Trainer, train
from fdstyle_core.training.data import ContentBatches
from fdstyle_core.training.vgg import CAFFE_INPUT, build_features, layer_names, load_vgg

from conftest import REPO, read_rgb

TINY = dict(crop=32, batch_size=2, log_every=1, preview_every=0, checkpoint_every=0, device="cpu")


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny tensors on a shared 2-core machine run many times faster without OpenMP spinning."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def partial_vgg(data_dir: Path) -> Path:
    return data_dir / "vgg" / "vgg19_relu3_1_torchvision_keys.npz"


@pytest.fixture(scope="module")
def content(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six photos (one becomes the held-out preview), linked rather than copied."""
    folder = tmp_path_factory.mktemp("content")
    for photo in sorted((data_dir / "content").glob("*.jpg"))[:6]:
        (folder / photo.name).symlink_to(photo)
    return folder


@pytest.fixture(scope="module")
def starry(data_dir: Path) -> Path:
    return data_dir / "styles" / "starry_night.jpg"


def _config(tmp_path: Path, content: Path, partial_vgg: Path, **changes: object) -> TrainConfig:
    fields: dict[str, object] = dict(
        content_dir=content, output=tmp_path / "models" / "tiny.pth", vgg=str(partial_vgg),
        style_size=96, run_dir=tmp_path / "run", **TINY,
    )
    return TrainConfig(**(fields | changes))  # type: ignore[arg-type]


def _fixed_batch(trainer: Trainer) -> torch.Tensor:
    batches = ContentBatches(trainer.train_paths, trainer.config.crop, 4, seed=123)
    try:
        return batches.next()
    finally:
        batches.close()


def _total(trainer: Trainer, batch: torch.Tensor) -> float:
    with torch.no_grad():
        return float(sum(trainer.loss_terms(batch).values()))


# --- VGG loss network ------------------------------------------------------------------------


def test_partial_vgg_conv1_1_matches_a_direct_convolution(partial_vgg: Path) -> None:
    vgg = load_vgg(partial_vgg, ["relu1_1", "relu3_1"])
    assert vgg.arch == "vgg19" and vgg.convention == CAFFE_INPUT
    image = np.random.default_rng(0).uniform(0, 255, (7, 9, 3)).astype(np.float32)
    got = vgg(torch.from_numpy(image).permute(2, 0, 1)[None])["relu1_1"][0].numpy()

    weights = np.load(partial_vgg)
    w, b = weights["features.0.weight"], weights["features.0.bias"]
    centred = np.pad(image - np.array(CAFFE_INPUT.mean, np.float32), ((1, 1), (1, 1), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(centred, (3, 3), axis=(0, 1))  # H, W, C, kh, kw
    expected = np.maximum(np.einsum("hwcij,ocij->ohw", windows, w) + b[:, None, None], 0)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)
    assert got.max() > 1  # not a trivially zero activation


def test_vgg_rejects_wrong_files_clearly(partial_vgg: Path, candy: Path, tmp_path: Path) -> None:
    with pytest.raises(FdstyleError, match="candy.pth is not VGG weights"):
        load_vgg(candy, ["relu2_2"])
    garbage = tmp_path / "vgg.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(FdstyleError, match="cannot read VGG weights vgg.pth") as refused:
        load_vgg(garbage, ["relu2_2"])
    assert "weights_only" not in str(refused.value)  # no advice to load an untrusted file unsafely
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, **{"features.0.weight": np.zeros((64, 1, 3, 3), np.float32), "features.0.bias": np.zeros(64, np.float32)})
    with pytest.raises(FdstyleError, match=r"features.0.weight has shape \(64, 1, 3, 3\)"):
        load_vgg(wrong, ["relu1_1"])
    with pytest.raises(FdstyleError, match="lacks features.12.weight"):
        load_vgg(partial_vgg, ["relu4_2"])
    with pytest.raises(FdstyleError, match="no layer relu9_9"):
        load_vgg(partial_vgg, ["relu9_9"])
    with pytest.raises(FdstyleError, match="VGG weights not found"):
        load_vgg(tmp_path / "missing.pth", ["relu1_1"])


def test_full_torchvision_style_file_loads_with_its_classifier_keys(tmp_path: Path) -> None:
    """A torchvision vgg16 .pth (features + classifier) loads, is recognised as VGG16 and normalized its way."""
    names = layer_names("vgg16")
    assert names.index("relu5_3") == 29 and layer_names("vgg19").index("relu5_4") == 35
    source = build_features("vgg16", len(names))
    state = {f"features.{k}": v for k, v in source.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)
    path = tmp_path / "vgg16-397923af.pth"
    torch.save(state, path)
    vgg = load_vgg(path, ["relu1_2", "relu2_2"])
    assert vgg.arch == "vgg16" and vgg.convention.name == "torchvision"
    assert torch.equal(vgg.features[2].weight, state["features.2.weight"])
    assert len(vgg.features) == names.index("relu2_2") + 1  # only what the loss needs is built


# --- perceptual loss -------------------------------------------------------------------------


def test_style_scales_parse_and_reject() -> None:
    assert parse_style_scales("1:1, 2:0.25,4") == (StyleScale(1, 1.0), StyleScale(2, 0.25), StyleScale(4, 1.0))
    for bad in ("", "1:x", "0:1", "2:1,2:0.5", "1:-1"):
        with pytest.raises(FdstyleError, match="style scale"):
            parse_style_scales(bad)


def test_multiscale_style_loss_is_zero_on_the_painting_and_large_elsewhere(partial_vgg: Path, starry: Path) -> None:
    vgg = load_vgg(partial_vgg, ["relu1_1", "relu2_1", "relu2_2", "relu3_1"])
    painting = torch.from_numpy(read_rgb(starry)[:96, :128].copy()).permute(2, 0, 1)[None].float()
    scales = parse_style_scales("1:1,2:0.2,4:0.05")
    loss = PerceptualLoss(vgg, painting, "relu2_2", ["relu1_1", "relu2_1", "relu3_1"], scales, 1.0, 5.0, 1.0)
    with torch.no_grad():
        same = loss(painting, painting)
        grey = loss(torch.full_like(painting, 128.0), painting)
    assert set(same) == {"content", "style_x1", "style_x2", "style_x4", "tv"}
    assert all(float(same[k]) < 1e-6 for k in ("content", "style_x1", "style_x2", "style_x4"))
    assert float(grey["style_x1"]) > 1.0 and float(grey["style_x4"]) > 0.01
    assert float(grey["tv"]) == 0.0 < float(same["tv"])


def test_batches_are_uint8_crops_even_from_photos_smaller_than_the_crop(tmp_path: Path) -> None:
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.full((20, 30, 3), 200, np.uint8))
    batches = ContentBatches([small], crop=32, batch_size=3, seed=0)
    try:
        batch = batches.next()
    finally:
        batches.close()
    assert batch.dtype == torch.uint8 and batch.shape == (3, 3, 32, 32) and int(batch.min()) == 200


# --- the train command -----------------------------------------------------------------------


def test_train_command_decreases_the_loss_and_writes_a_loadable_style(
    tmp_path: Path, content: Path, partial_vgg: Path, starry: Path
) -> None:
    assert COMMANDS["train"][0] == "fdstyle_core.cli.train"
    parser = argparse.ArgumentParser()
    train_cmd.add_arguments(parser)
    output = tmp_path / "models" / "starry.pth"
    args = parser.parse_args([
        "--style-image", str(starry), "--content-dir", str(content), "-o", str(output),
        "--vgg", str(partial_vgg), "--steps", "12", "--batch-size", "2", "--crop", "32", "--lr", "0.01",
        "--style-size", "96", "--run-dir", str(tmp_path / "run"), "--preview-every", "6", "--device", "cpu",
        "--title", "The Starry Night", "--artist", "Vincent van Gogh", "--year", "1889",
        "--licence", "public domain", "--default",
    ])
    config = train_cmd.config_from_args(args)
    trainer = Trainer(config)
    batch = _fixed_batch(trainer)
    before = _total(trainer, batch)
    result = trainer.fit(progress=False)
    assert _total(trainer, batch) < 0.8 * before
    assert result.step == 12 and result.images_seen == 24

    state = read_state_dict(output)
    assert all(v.dtype == torch.float32 for v in state.values())
    assert torch.load(output, weights_only=True)["conv1.conv2d.weight"].dtype == torch.float16
    frame = read_rgb(config.preview_image or trainer.preview_path)[:96, :128].copy()
    styled = load_network(output)(torch.from_numpy(frame).permute(2, 0, 1)[None].float()).clamp(0, 255)
    styled_np = styled[0].permute(1, 2, 0).round().numpy()
    assert np.abs(styled_np - frame).mean() > 10  # it changes the image
    assert np.abs(styled_np - trainer.stylize(frame)).mean() < 2  # and it is the trained network, in fp16

    manifest = json.loads((output.parent / "styles.json").read_text())
    (entry,) = manifest["styles"]
    assert set(REQUIRED_FIELDS) <= set(entry)
    assert entry["default"] is True and entry["artist"] == "Vincent van Gogh" and entry["steps"] == 12
    assert entry["loss_network"]["file"] == partial_vgg.name and entry["data"]["images"] == 5
    assert entry["data"]["held_out"] not in {p.name for p in trainer.train_paths}
    assert sorted(p.name for p in (tmp_path / "run" / "previews").iterdir()) == ["step_000006.jpg", "step_000012.jpg"]


def test_resume_continues_from_the_checkpoint_step(tmp_path: Path, content: Path, partial_vgg: Path, starry: Path) -> None:
    slim = dict(style_image=starry, width=0.5)
    with pytest.raises(FdstyleError, match="nothing to resume"):
        train(_config(tmp_path, content, partial_vgg, **slim, steps=2, resume=True), progress=False)
    first = train(_config(tmp_path, content, partial_vgg, **slim, steps=3, checkpoint_every=2), progress=False)
    assert (first.start_step, first.step) == (0, 3)
    resumed = Trainer(_config(tmp_path, content, partial_vgg, **slim, steps=5, resume=True))
    resumed.load_checkpoint()
    saved = torch.load(resumed.checkpoint_path, weights_only=True)
    assert resumed.step == 3 and torch.equal(resumed.model.conv1.conv2d.weight, saved["model"]["conv1.conv2d.weight"])
    result = resumed.fit(progress=False)
    assert (result.start_step, result.step, result.images_seen) == (3, 5, 10)
    assert 0 < saved["minutes"] == resumed.minutes_before < resumed.minutes_trained  # the manifest counts both runs
    assert json.loads((tmp_path / "models" / "styles.json").read_text())["styles"][0]["steps"] == 5
    with pytest.raises(FdstyleError, match="network of width 0.5, 9×9 end kernels, 5 residual blocks; this run asks for width 0.25"):
        Trainer(_config(tmp_path, content, partial_vgg, style_image=starry, width=0.25, resume=True)).load_checkpoint()


def test_resume_with_loss_scaling_from_a_run_without_it(tmp_path: Path, content: Path, partial_vgg: Path, starry: Path) -> None:
    """A bf16 (or fp32) run continued where only fp16 is available: the loss scaler starts fresh."""
    slim = dict(style_image=starry, width=0.25)
    train(_config(tmp_path, content, partial_vgg, **slim, steps=2), progress=False)
    resumed = Trainer(_config(tmp_path, content, partial_vgg, **slim, steps=3, resume=True))
    resumed.scaler = torch.amp.GradScaler("cpu", enabled=True)
    resumed.load_checkpoint()
    assert resumed.step == 2


def test_init_trains_a_shipped_style_longer_and_counts_on(tmp_path: Path, content: Path, partial_vgg: Path, starry: Path) -> None:
    """--init starts from a style's weights (fresh optimizer); the new entry counts the old run too."""
    shipped = PROJECT_MODELS_DIR / "starry_night.pth"
    entry = find_entry(shipped.parent, shipped.stem)
    assert entry is not None
    shape = load_network(shipped).architecture
    same = dict(width=shape.width, end_kernel=shape.end_kernel, residual_blocks=shape.residual_blocks)
    trainer = Trainer(_config(tmp_path, content, partial_vgg, style_image=starry, **same, steps=entry["steps"] + 2, init=shipped))
    trainer.start_from_style()
    assert torch.equal(trainer.model.conv1.conv2d.weight, read_state_dict(shipped)["conv1.conv2d.weight"])
    result = trainer.fit(progress=False)
    assert (result.start_step, result.step) == (entry["steps"], entry["steps"] + 2)
    assert result.images_seen == entry["images_seen"] + 2 * trainer.config.batch_size
    assert result.entry["minutes"] >= entry["minutes"] and result.entry["started_from"] == "starry_night.pth"
    with pytest.raises(FdstyleError, match="cannot start from"):  # a width-0.5 run from a width-0.25 style
        Trainer(_config(tmp_path, content, partial_vgg, style_image=starry, **(same | {"width": 0.5}), init=shipped)).start_from_style()
    with pytest.raises(FdstyleError, match="give one of them"):
        _config(tmp_path, content, partial_vgg, style_image=starry, init=shipped, resume=True)


def test_init_with_a_teacher_shrinks_a_style_into_a_faster_network(tmp_path: Path, content: Path, partial_vgg: Path, candy: Path) -> None:
    """A trained 9×9 style distilled into 5×5 end kernels and 3 residual blocks: it starts from the
    style's own weights, counts from zero, and its entry keeps the teacher's recipe."""
    teachers = tmp_path / "teachers"
    teachers.mkdir()
    teacher = teachers / "candy.pth"
    teacher.write_bytes(candy.read_bytes())
    record_entry(teachers, {"name": "candy", "display_name": "Candy", "painting": "candy.jpg", "images_seen": 160_000})
    config = _config(tmp_path, content, partial_vgg, teacher=teacher, init=teacher, end_kernel=5, residual_blocks=3, steps=3)
    trainer = Trainer(config)
    trainer.start_from_style()
    source = read_state_dict(teacher)
    assert trainer.step == 0 and "res4.conv1.conv2d.weight" not in trainer.model.state_dict()
    folded, centre = trainer.model.conv1.conv2d.weight, source["conv1.conv2d.weight"]
    assert torch.equal(folded[:, :, 1:4, 1:4], centre[:, :, 3:6, 3:6])  # the inner taps as they were
    assert torch.allclose(folded.sum(dim=(2, 3)), centre.sum(dim=(2, 3)), atol=1e-3)  # the outer ones moved in
    assert torch.equal(trainer.model.res3.conv2.conv2d.weight, source["res3.conv2.conv2d.weight"])
    batch = _fixed_batch(trainer)
    with torch.no_grad():  # the style's own weights are a far better start than fresh ones
        assert 4 * trainer.loss_terms(batch)["distill"] < Trainer(config).loss_terms(batch)["distill"]
    result = trainer.fit(progress=False)
    student = load_network(result.output)
    assert student.architecture == Architecture(1.0, 5, 3)
    assert (result.start_step, result.step) == (0, 3)
    assert result.entry["end_kernel"] == 5 and result.entry["residual_blocks"] == 3 and result.entry["teacher"] == "candy.pth"
    assert result.entry["teacher_recipe"]["images_seen"] == 160_000 and result.entry["display_name"] == "Candy"
    assert result.entry["painting"] == "candy.jpg" and result.entry["variant"] == "full"
    for bigger in (dict(end_kernel=11), dict(residual_blocks=6), dict(width=0.25)):  # nothing to start those weights from
        with pytest.raises(FdstyleError, match="cannot start from"):
            Trainer(_config(tmp_path, content, partial_vgg, teacher=teacher, init=teacher, **bigger)).start_from_style()
    with pytest.raises(FdstyleError, match="end kernel 4 is not an odd number"):
        _config(tmp_path, content, partial_vgg, teacher=teacher, end_kernel=4)


def test_a_lite_network_starts_its_shared_layers_from_a_style_and_learns_the_rest(
    tmp_path: Path, content: Path, partial_vgg: Path, candy: Path
) -> None:
    """Distilling a style into the lite network: the layers both networks have start from the
    style, the lite ones (pixel-block ends, depthwise blocks) fresh; the file and its entry say lite."""
    config = _config(tmp_path, content, partial_vgg, teacher=candy, init=candy, kind="lite", steps=3)
    assert config.architecture == Architecture(1.0, 3, 5, "lite")  # the lite kind's own end kernel
    trainer = Trainer(config)
    fresh = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.start_from_style()
    source, started = read_state_dict(candy), trainer.model.state_dict()
    assert torch.equal(started["conv3.conv2d.weight"], source["conv3.conv2d.weight"])
    assert torch.equal(started["in4.bias"], source["in4.bias"])
    assert torch.equal(started["res1.in1.weight"], fresh["res1.in1.weight"])  # not the full blocks' norms
    assert torch.equal(started["block_in.conv2d.weight"], fresh["block_in.conv2d.weight"])
    result = trainer.fit(progress=False)
    assert load_network(result.output).architecture == Architecture(1.0, 3, 5, "lite")
    assert result.entry["network"] == "lite" and result.entry["end_kernel"] == 3 and result.entry["started_from"] == "candy.pth"
    with pytest.raises(FdstyleError, match="unknown network kind"):
        _config(tmp_path, content, partial_vgg, teacher=candy, kind="tiny")


@pytest.mark.parametrize("network", ["johnson", "lite"])
def test_the_shrink_tool_keeps_the_originals_shrinks_each_style_and_resumes(tmp_path: Path, content: Path, network: str) -> None:
    """tools/shrink_styles.sh on two 9×9 styles, one the default: the originals are kept as the
    teachers, each style comes back with 5×5 ends under its name (or gets a lite variant beside
    it, the default's the CPUs' default), and a second run goes on from the checkpoints."""
    models = tmp_path / "models"
    models.mkdir()
    for name, default in (("first", True), ("second", False)):
        torch.manual_seed(len(name))
        torch.save(TransformerNet(0.25).state_dict(), models / f"{name}.pth")
        record_entry(models, {"name": name, "display_name": name.title(), "painting": f"{name}.jpg"}, DEVICE_CLASSES if default else ())
    data = tmp_path / "data"
    data.mkdir()
    (data / "content").symlink_to(content)
    env = {**os.environ, "OUT": str(models), "RUNS": str(tmp_path / "runs"), "MINUTES": "0.02", "PYTHON": sys.executable, "NETWORK": network}
    made = {"first": "first", "second": "second"} if network == "johnson" else {"first": "first_lite", "second": "second_lite"}
    steps = []
    for _ in range(2):
        done = subprocess.run(
            ["bash", str(REPO / "tools" / "shrink_styles.sh"), str(data)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
        entries = read_entries(models)
        steps.append([entries[made[name]]["steps"] for name in ("first", "second")])
    assert all(0 < before < after for before, after in zip(*steps))  # the second run counted on from the first
    teachers = tmp_path / "runs" / "teachers"
    expected = Architecture(0.25, 5, 5) if network == "johnson" else Architecture(0.25, 3, 5, "lite")
    for name in ("first", "second"):
        assert load_network(teachers / f"{name}.pth").architecture.end_kernel == 9
        assert load_network(models / f"{made[name]}.pth").architecture == expected
        entry = entries[made[name]]
        assert entry["teacher_recipe"]["painting"] == f"{name}.jpg" and entry["display_name"] == name.title()
    assert entries["first"]["default"] and not entries["second"]["default"]
    if network == "lite":
        assert entries["first_lite"]["variant"] == "lite" and entries["first_lite"]["variant_of"] == "first"
        assert entries["first_lite"]["default_for"] == ["cpu"] and entries["first"]["default_for"] == ["gpu"]
        assert load_network(models / "first.pth").architecture == Architecture(0.25, 9, 5)  # left as it was


def test_time_limit_stops_early_and_still_exports(tmp_path: Path, content: Path, partial_vgg: Path, starry: Path) -> None:
    """A lent GPU's time runs out: the run stops, and the style and its manifest say how far it got."""
    result = train(_config(tmp_path, content, partial_vgg, style_image=starry, width=0.25, steps=100_000, max_minutes=0.02), progress=False)
    assert 1 <= result.step < 100_000
    assert load_network(result.output) is not None
    assert json.loads((tmp_path / "models" / "styles.json").read_text())["styles"][0]["steps"] == result.step
    for bad in (-1.0, float("nan")):
        with pytest.raises(FdstyleError, match="--max-minutes"):
            _config(tmp_path, content, partial_vgg, style_image=starry, max_minutes=bad)


def test_slim_width_trains(tmp_path: Path, content: Path, partial_vgg: Path, starry: Path) -> None:
    trainer = Trainer(_config(tmp_path, content, partial_vgg, style_image=starry, width=0.25, steps=10, lr=0.01))
    batch = _fixed_batch(trainer)
    before = _total(trainer, batch)
    trainer.fit(progress=False)
    assert _total(trainer, batch) < 0.8 * before
    state = read_state_dict(tmp_path / "models" / "tiny.pth")
    assert state["conv1.conv2d.weight"].shape[0] == 8  # 32 × 0.25 channels


def test_distillation_from_a_teacher(tmp_path: Path, content: Path, partial_vgg: Path, candy: Path) -> None:
    trainer = Trainer(_config(tmp_path, content, partial_vgg, teacher=candy, width=0.25, steps=10, lr=0.01, crop=48))
    batch = _fixed_batch(trainer)
    before = trainer.loss_terms(batch)
    assert set(before) == {"distill"}  # no painting given: the teacher alone is the target
    result = trainer.fit(progress=False)
    with torch.no_grad():
        assert float(trainer.loss_terms(batch)["distill"]) < 0.8 * float(before["distill"])
    assert result.entry["teacher"] == "candy.pth" and result.entry["weights"] == {"distill": 1.0}
    assert result.entry["loss_network"] is None


def test_mixed_precision_path_gives_finite_decreasing_loss(tmp_path: Path, content: Path, partial_vgg: Path, starry: Path) -> None:
    """The bf16 autocast path CUDA runs take, exercised through CPU autocast (no GPU on CI)."""
    trainer = Trainer(_config(tmp_path, content, partial_vgg, style_image=starry, width=0.25, lr=0.01))
    trainer.amp_dtype = torch.bfloat16
    batch = _fixed_batch(trainer)
    first = trainer.train_step(batch)
    for _ in range(6):
        last = trainer.train_step(batch)
    assert all(torch.isfinite(v) for v in last.values())
    assert float(last["total"]) < float(first["total"])
    assert trainer.stylize(read_rgb(trainer.preview_path)[:32, :32].copy()).dtype == np.uint8


def test_config_rejects_bad_requests(tmp_path: Path, content: Path, partial_vgg: Path, starry: Path) -> None:
    with pytest.raises(FdstyleError, match="--style-image"):
        _config(tmp_path, content, partial_vgg)
    with pytest.raises(FdstyleError, match="multiple of 4"):
        _config(tmp_path, content, partial_vgg, style_image=starry, crop=30)
    for lr in (-1.0, 0.0, float("nan")):
        with pytest.raises(FdstyleError, match="--lr must be > 0"):
            _config(tmp_path, content, partial_vgg, style_image=starry, lr=lr)
    with pytest.raises(FdstyleError, match=".pth"):
        _config(tmp_path, content, partial_vgg, style_image=starry, output=tmp_path / "x.onnx")
    with pytest.raises(FdstyleError, match="content folder not found"):
        Trainer(_config(tmp_path, tmp_path / "nope", partial_vgg, style_image=starry))


# --- the styles shipped in models/ -----------------------------------------------------------


def test_shipped_styles_load_change_the_image_differ_and_are_documented(data_dir: Path) -> None:
    manifest_path = PROJECT_MODELS_DIR / "styles.json"
    entries = json.loads(manifest_path.read_text())["styles"] if manifest_path.is_file() else []
    ours = [e for e in entries if e.get("loss_network") or e.get("teacher")]
    paintings = [e for e in ours if e.get("loss_network") or (e.get("teacher_recipe") or {}).get("loss_network")]
    assert len(paintings) >= 6  # trained from a painting, or distilled from a network that was
    assert sum(bool(e.get("default")) for e in entries) == 1
    for device_class in DEVICE_CLASSES:  # exactly one default for each kind of machine
        assert sum(device_class in e["default_for"] for e in entries) == 1, device_class
    cpu_default = next(e for e in entries if "cpu" in e["default_for"])
    assert cpu_default["variant"] == "lite"  # a laptop starts with the fastest network
    fast = {e["name"] for e in ours if e["variant"] == "fast"}
    for entry in ours:  # a fast variant really is slim, a lite one lite; a full or lite one names the fast style it belongs to
        net = load_network(PROJECT_MODELS_DIR / f"{entry['name']}.pth")
        assert net.width == entry["width"] and (entry["variant"] == "full") == (entry["width"] >= 1)
        assert (entry["variant"] == "lite") == (net.architecture.kind == "lite") == (entry.get("network") == "lite")
        assert net.architecture.end_kernel == entry.get("end_kernel", 9), entry["name"]
        assert entry["variant"] == "fast" or entry.get("variant_of") in fast, entry["name"]
        if "teacher_recipe" in entry:  # a distilled style says how to make its teacher again
            assert set(REQUIRED_FIELDS) - {"default_for"} <= set(entry["teacher_recipe"]), entry["name"]
    frame = read_rgb(data_dir / "models" / "reference" / "amber.jpg")
    frame = frame[: frame.shape[0] // 4 * 4, : frame.shape[1] // 4 * 4]
    x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float()
    outputs = {}
    for entry in ours:
        assert set(REQUIRED_FIELDS) <= set(entry), entry["name"]
        with torch.no_grad():
            outputs[entry["name"]] = load_network(PROJECT_MODELS_DIR / f"{entry['name']}.pth")(x).clamp(0, 255)
        assert (outputs[entry["name"]] - x).abs().mean() > 20, entry["name"]
    names = [e["name"] for e in paintings if not e.get("variant_of")]  # one network per painting
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert (outputs[a] - outputs[b]).abs().mean() > 10, (a, b)
