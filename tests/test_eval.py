"""`eval`, `eval-mask` and `bench` end to end on small real inputs (CPU; speed is never asserted)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fdstyle_core.cdnet import CdnetClip
from fdstyle_core.cli import main
from fdstyle_core.eval_cmd import COLUMNS
from fdstyle_core.masks import grey_differences, paper_foreground, sequential_foreground
from fdstyle_core.pipeline import MODES
from fdstyle_core.stabilizer import MaskParams

METRICS = {key for key, _, _ in COLUMNS} | {"frame_ms"}


@pytest.fixture(scope="module")
def office_eval(data_dir: Path, candy: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """cdnet_office from frame 600 (a person walks in), 144×96, 14 frames, every mode."""
    out = tmp_path_factory.mktemp("eval")
    report = out / "eval.json"
    argv = ["eval", str(data_dir / "videos" / "cdnet_office"), "--style", str(candy), "--methods", ",".join(MODES)]
    argv += ["--start", "600", "--max-frames", "14", "--resize", "144x96", "--json", str(report), "--plots", str(out / "plots")]
    assert main(argv) == 0
    return json.loads(report.read_text()), out / "plots"


def test_eval_reports_every_method_and_metric(office_eval: tuple[dict, Path]) -> None:
    report, _ = office_eval
    clip = report["clips"]["cdnet_office"]
    assert clip["frames"] == 14 and clip["size"] == [144, 96] and clip["foreground"] == "ground truth"
    assert set(clip["methods"]) == set(MODES)
    for method, scores in clip["methods"].items():
        assert set(scores) == METRICS, method
        assert all(isinstance(v, float) and not math.isnan(v) for k, v in scores.items() if k != "ghost_error"), method
    perframe = clip["methods"]["perframe"]
    assert perframe["follow"] == pytest.approx(1.0)
    assert perframe["fidelity"] == 0.0 and perframe["stale_fraction"] == 0.0


def test_paper_beats_perframe_on_flicker_and_warp_error(office_eval: tuple[dict, Path]) -> None:
    methods = office_eval[0]["clips"]["cdnet_office"]["methods"]
    assert methods["paper"]["background_flicker"] < 0.2 * methods["perframe"]["background_flicker"]
    assert methods["paper"]["e_warp"] < methods["perframe"]["e_warp"]


def test_eval_writes_plots(office_eval: tuple[dict, Path]) -> None:
    plots = office_eval[1]
    for name in ("cdnet_office_flicker.png", "cdnet_office_strip.png"):
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_rejects_unknown_method(data_dir: Path, candy: Path, capsys: pytest.CaptureFixture) -> None:
    clip = data_dir / "videos" / "cdnet_office"
    assert main(["eval", str(clip), "--style", str(candy), "--methods", "perframe,nonsense"]) == 2
    assert "nonsense" in capsys.readouterr().err


def test_bench_json_tiny_configuration(candy: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    argv = ["bench", "--style", str(candy), "--sizes", "48x32,40x24", "--modes", "perframe,paper,flow"]
    assert main(argv + ["--devices", "cpu", "--warmup", "1", "--repeats", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert len(report["results"]) == 6
    for row in report["results"]:
        assert set(row["ms"]) == {"upload", "network", "stabilize", "download", "total"}
        assert row["fps"] == pytest.approx(1000 / row["ms"]["total"])
        assert row["device"] == "cpu" and row["precision"] == "fp32"
    assert [r["size"] for r in report["ratios"]] == ["48x32", "40x24"]
    assert all(r["paper_over_perframe"] > 0 for r in report["ratios"])


def test_eval_mask_on_cdnet_frames(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mask.json"
    clip = data_dir / "videos" / "cdnet_pedestrians"
    argv = ["eval-mask", str(clip), "--stride", "50", "--max-frames", "3", "--json", str(out)]
    argv += ["--sweep", "--sweep-thresholds", "8,12", "--sweep-dilate-iters", "0,2", "--sweep-erode-iters", "3", "--sweep-erode-kernels", "5"]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert report["frames"]["cdnet_pedestrians"] == [300, 350, 400]
    methods = {row["method"] for row in report["results"]}
    assert {"paper", "mog2", "knn"} <= methods and "perframe" not in methods  # perframe has no mask
    for row in report["results"]:
        assert 0 <= row["f"] <= 1 and 0 <= row["pwc"] <= 100
    assert len(report["sweep"]["per_clip"]["cdnet_pedestrians"]) == 4
    joint = report["sweep"]["joint"]
    assert joint[0]["f"] == max(r["f"] for r in joint)


def test_eval_mask_rejects_a_folder_that_is_not_cdnet(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["eval-mask", str(tmp_path)]) == 2
    assert "not a CDnet clip" in capsys.readouterr().err


def test_sweep_fast_path_equals_the_stabilizer_mask(data_dir: Path) -> None:
    clip = CdnetClip.open(data_dir / "videos" / "cdnet_pedestrians")
    previous = [clip.frame(i - 1) for i in (420, 500)]
    current = [clip.frame(i) for i in (420, 500)]
    differences = grey_differences(previous, current)
    for params in (MaskParams(), MaskParams(8, 3, 3, 2, 5), MaskParams(20, 0, 1, 4, 3), MaskParams(5, 1, 5, 0, 1)):
        expected = np.stack(
            [next(sequential_foreground("paper", params, [(0, p), (1, c)], {1}))[1] for p, c in zip(previous, current)]
        )
        assert expected.any()
        assert np.array_equal(paper_foreground(differences, params), expected), params
