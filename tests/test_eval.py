"""`eval`, `eval-mask` and `bench` end to end on small real inputs (CPU; speed is never asserted)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fdstyle_core.evaluation.cdnet import CdnetClip
from fdstyle_core.cli.main import main
from fdstyle_core.cli.evaluate import COLUMNS, method_settings
from fdstyle_core.cli.evaluate_masks import Scored
from fdstyle_core.evaluation.mask_scoring import grey_differences, paper_foreground, sequential_foreground
from fdstyle_core.stabilizers import MODES
from fdstyle_core.stabilizers.base import MaskParams

METRICS = {key for key, _, _ in COLUMNS} | {"frame_ms", "region_ms"}
VARIANT = "reference:feather=0:threshold=auto"


@pytest.fixture(scope="module")
def office_eval(data_dir: Path, candy: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """cdnet_office from frame 600 (a person walks in), 144×96, 14 frames, every mode and a variant."""
    out = tmp_path_factory.mktemp("eval")
    report = out / "eval.json"
    argv = ["eval", str(data_dir / "videos" / "cdnet_office"), "--style", str(candy), "--methods", ",".join(MODES + (VARIANT,))]
    argv += ["--start", "600", "--max-frames", "14", "--resize", "144x96", "--json", str(report), "--plots", str(out / "plots")]
    assert main(argv) == 0
    return json.loads(report.read_text()), out / "plots"


def test_eval_reports_every_method_and_metric(office_eval: tuple[dict, Path]) -> None:
    report, _ = office_eval
    clip = report["clips"]["cdnet_office"]
    assert clip["frames"] == 14 and clip["size"] == [144, 96] and clip["foreground"] == "ground truth"
    assert set(clip["methods"]) == set(MODES) | {VARIANT}
    for method, scores in clip["methods"].items():
        assert set(scores) == METRICS, method
        # GE needs uncovered pixels, seam visibility a mask with a boundary
        assert all(isinstance(v, float) and not math.isnan(v) for k, v in scores.items() if k not in ("ghost_error", "seam")), method
    assert clip["methods"]["reference"]["seam"] > 0 and math.isnan(clip["methods"]["perframe"]["seam"])
    perframe = clip["methods"]["perframe"]
    assert perframe["follow"] == pytest.approx(1.0)
    assert perframe["fidelity"] == 0.0 and perframe["stale_fraction"] == 0.0


def test_the_default_mode_is_scored_with_its_region_passes(office_eval: tuple[dict, Path]) -> None:
    """What users run: a walker repainted in regions (real network passes), not from the cached full frame."""
    methods = office_eval[0]["clips"]["cdnet_office"]["methods"]
    assert methods["reference"]["region_ms"] > 0
    assert methods["perframe"]["region_ms"] == 0 and methods["paper"]["region_ms"] == 0


def test_paper_beats_perframe_on_flicker_and_warp_error(office_eval: tuple[dict, Path]) -> None:
    methods = office_eval[0]["clips"]["cdnet_office"]["methods"]
    assert methods["paper"]["background_flicker"] < 0.2 * methods["perframe"]["background_flicker"]
    assert methods["paper"]["e_warp"] < methods["perframe"]["e_warp"]


def test_eval_writes_plots(office_eval: tuple[dict, Path]) -> None:
    plots = office_eval[1]
    for name in ("cdnet_office_flicker.png", "cdnet_office_strip.png", "cdnet_office_seams.png"):
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_rejects_unknown_method(data_dir: Path, candy: Path, capsys: pytest.CaptureFixture) -> None:
    clip = data_dir / "videos" / "cdnet_office"
    assert main(["eval", str(clip), "--style", str(candy), "--methods", "perframe,nonsense"]) == 2
    assert "nonsense" in capsys.readouterr().err
    assert main(["eval", str(clip), "--style", str(candy), "--methods", "reference:feather=soft"]) == 2
    assert "feather must be a int" in capsys.readouterr().err


def test_method_variants_override_mask_settings() -> None:
    mode, params = method_settings(VARIANT, MaskParams(threshold=20))
    assert mode == "reference" and params == MaskParams(threshold=20, feather=0, auto_threshold=True)
    assert method_settings("paper:erode_iters=2:skip_work=no", MaskParams())[1] == MaskParams(erode_iters=2, skip_work=False)


def test_bench_json_tiny_configuration(candy: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    argv = ["bench", "--style", str(candy), "--sizes", "48x32,40x24", "--modes", "perframe,paper,flow", "--processing-height", "28"]
    options = ["--devices", "cpu", "--engines", "torch,openvino", "--precisions", "fp32", "--warmup", "1", "--repeats", "2"]
    assert main(argv + options + ["--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert len(report["results"]) == 12  # 2 sizes × 2 engines × 3 modes
    for row in report["results"]:
        assert set(row["ms"]) == {"upload", "network", "stabilize", "download", "total"}
        assert row["fps"] == pytest.approx(1000 / row["mean_ms"])
        assert row["engine_name"] in ("torch", "openvino") and row["precision"] == "fp32"
    sizes = [r["size"] for r in report["ratios"]]
    assert sizes == ["48x32@28p", "48x32@28p", "40x24", "40x24"]  # 24 rows: already below 28
    assert all(r["paper_over_perframe"] > 0 and r["flow_over_perframe"] > 0 for r in report["ratios"])
    speedups = report["engine_speedups"]
    assert len(speedups) == 6 and all(r["engine"].startswith("openvino") and r["over_torch"] > 0 for r in speedups)


def test_bench_on_a_real_clip_counts_network_calls(data_dir: Path, candy: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    clip = data_dir / "videos" / "talking" / "retalking_1.mp4"
    argv = ["bench", "--style", str(candy), "--clip", str(clip), "--sizes", "48x48", "--modes", "perframe,paper,reference"]
    assert main(argv + ["--devices", "cpu", "--warmup", "1", "--repeats", "3", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["frames"] == str(clip)
    rows = {row["mode"]: row for row in report["results"]}
    assert rows["perframe"]["calls_per_frame"] == rows["paper"]["calls_per_frame"] == 1.0
    assert rows["perframe"]["region_calls_per_frame"] == 0.0
    assert 0 <= rows["reference"]["region_calls_per_frame"] <= rows["reference"]["calls_per_frame"] <= 1.0
    assert report["ratios"][0]["reference_over_perframe"] > 0


def test_eval_mask_on_cdnet_frames(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mask.json"
    clip = data_dir / "videos" / "cdnet_pedestrians"
    argv = ["eval-mask", str(clip), "--modes", "paper", "--stride", "50", "--max-frames", "3", "--json", str(out)]
    argv += ["--sweep", "--sweep-thresholds", "8,12", "--sweep-dilate-iters", "0,2", "--sweep-erode-iters", "3", "--sweep-erode-kernels", "5"]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert report["frames"]["cdnet_pedestrians"] == [300, 350, 400]
    methods = {row["method"] for row in report["results"]}
    assert {"paper", "mog2", "knn"} <= methods and "perframe" not in methods  # perframe has no mask
    for row in report["results"]:
        assert 0 <= row["f"] <= 1 and 0 <= row["pwc"] <= 100
    assert len(report["sweep"]["paper"]["per_clip"]["cdnet_pedestrians"]) == 4
    joint = report["sweep"]["paper"]["joint"]
    assert joint[0]["f"] == max(r["f"] for r in joint)


def test_eval_mask_runs_stateful_modes_sequentially(data_dir: Path, tmp_path: Path) -> None:
    """`reference` and an automatic T on two nearby frames (one stabilizer run), with added noise."""
    out = tmp_path / "mask.json"
    clip = data_dir / "videos" / "cdnet_pedestrians"
    argv = ["eval-mask", str(clip), "--modes", "paper,reference", "--threshold", "auto", "--add-noise", "6"]
    argv += ["--stride", "4", "--max-frames", "2", "--no-subtractors", "--json", str(out)]
    argv += ["--sweep", "--sweep-modes", "reference", "--sweep-thresholds", "20", "--sweep-erode-iters", "2", "--sweep-erode-kernels", "5"]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert report["frames"]["cdnet_pedestrians"] == [300, 304] and report["noise_sigma"] == 6
    rows = {row["method"]: row for row in report["results"]}
    assert set(rows) == {"paper", "reference"}
    for row in rows.values():
        assert row["setting"].startswith("T=auto(") and 3 <= row["threshold"] <= 40
        assert 0 <= row["f"] <= 1 and 0 <= row["pwc"] <= 100
    [swept] = report["sweep"]["reference"]["per_clip"]["cdnet_pedestrians"]
    assert swept["setting"] == "T=20 erode 2×5"


def test_added_noise_is_seeded_per_frame(data_dir: Path) -> None:
    clip = CdnetClip.open(data_dir / "videos" / "cdnet_pedestrians")
    noisy = Scored.load(clip, [300], noise=6)
    first = noisy.frame(300)
    assert np.array_equal(first, noisy.frame(300))
    difference = first.astype(float) - clip.frame(300)
    assert 4 < difference.std() < 7
    next_noise = noisy.frame(301).astype(float) - clip.frame(301)
    assert np.corrcoef(difference.ravel(), next_noise.ravel())[0, 1] < 0.1  # fresh noise every frame


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
