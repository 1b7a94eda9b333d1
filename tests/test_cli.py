"""The command line: real runs on real clips, and one readable line for every kind of bad input."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fdstyle_core.cli import stylize
from fdstyle_core.cli.main import build_parser, stop_signals_ignored
from fdstyle_core.engine.auto_height import HeightChoice
from fdstyle_core.engine.pipeline import Pipeline
from fdstyle_core.errors import FdstyleError
from fdstyle_core.io.atomic import replaced_on_success
from fdstyle_core.io.video import FrameSink, VideoCapture, frame_at, open_source
from fdstyle_core.live import height_keeper
from tests.conftest import REPO


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fdstyle_core", *map(str, args)], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def video_frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            return frames
        frames.append(frame)


def test_stylize_video_keeps_frame_count_and_size(data_dir: Path, candy: Path, tmp_path: Path) -> None:
    out, mask = tmp_path / "out.mp4", tmp_path / "mask.avi"
    result = cli(
        "stylize", data_dir / "videos/talking/liveportrait_d0.mp4", "-o", out, "--style", candy,
        "--resize", "130x98", "--max-frames", "9", "--mask-output", mask,
    )
    assert result.returncode == 0, result.stderr
    assert "9 frames 130x98" in result.stdout and "fps" in result.stdout
    assert "Automatic" not in result.stdout  # a file is painted at its own size
    frames = video_frames(out)
    assert len(frames) == 9 and frames[0].shape == (98, 130, 3)
    assert len(video_frames(mask)) == 9
    assert not list(tmp_path.glob(".*part*")), "temporary files left behind"


def test_stylize_frame_folder_side_by_side(data_dir: Path, candy: Path, tmp_path: Path) -> None:
    out = tmp_path / "frames"
    result = cli("stylize", data_dir / "videos/cdnet_pedestrians/input", "-o", out, "--style", candy,
                 "--mode", "perframe", "--resize", "90x60", "--max-frames", "3", "--side-by-side")
    assert result.returncode == 0, result.stderr
    written = sorted(out.glob("*.png"))
    assert len(written) == 3 and cv2.imread(str(written[0])).shape == (60, 180, 3)


def test_stylize_single_image(data_dir: Path, candy: Path, tmp_path: Path) -> None:
    out = tmp_path / "amber.png"
    result = cli("stylize", data_dir / "models/reference/amber.jpg", "-o", out, "--style", candy, "--resize", "64x64")
    assert result.returncode == 0, result.stderr
    image = cv2.imread(str(out))
    assert image.shape == (64, 64, 3) and image.std() > 10


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert fragment in lines[0]


def test_missing_model(tmp_path: Path, data_dir: Path) -> None:
    result = cli("stylize", data_dir / "models/reference/amber.jpg", "-o", tmp_path / "o.png",
                 "--style", tmp_path / "none.pth")
    assert_one_line_error(result, "style file not found")


def test_corrupt_model(tmp_path: Path, data_dir: Path) -> None:
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"\x00garbage")
    result = cli("stylize", data_dir / "models/reference/amber.jpg", "-o", tmp_path / "o.png", "--style", bad)
    assert_one_line_error(result, "cannot read style file bad.pth")


def test_wrong_keys(tmp_path: Path, data_dir: Path) -> None:
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, wrong)
    result = cli("stylize", data_dir / "models/reference/amber.jpg", "-o", tmp_path / "o.png", "--style", wrong)
    assert_one_line_error(result, "missing conv1.conv2d.bias")


def test_unreadable_video_leaves_no_output(tmp_path: Path, candy: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    out = tmp_path / "o.mp4"
    result = cli("stylize", broken, "-o", out, "--style", candy)
    assert_one_line_error(result, "broken.mp4")
    assert not out.exists() and not list(tmp_path.glob(".*part*"))


def test_empty_folder(tmp_path: Path, candy: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = cli("stylize", tmp_path / "empty", "-o", tmp_path / "o.mp4", "--style", candy)
    assert_one_line_error(result, "no image frames")


def test_camera_that_cannot_open(tmp_path: Path, candy: Path) -> None:
    result = cli("stylize", "57", "-o", tmp_path / "o.mp4", "--style", candy)
    assert_one_line_error(result, "cannot open camera 57")


@pytest.mark.parametrize("size", ["640", "0x480", "axb"])
def test_bad_resize(tmp_path: Path, candy: Path, data_dir: Path, size: str) -> None:
    result = cli("stylize", data_dir / "models/reference/amber.jpg", "-o", tmp_path / "o.png",
                 "--style", candy, "--resize", size)
    assert_one_line_error(result, "bad size")


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [("--threshold", "abc", "threshold must be a number"), ("--threshold", "nan", "threshold must be a number ≥ 0"),
     ("--max-frames", "-1", "whole number ≥ 0"), ("--mode", "magic", "invalid choice")],
)
def test_bad_options_give_one_line(tmp_path: Path, candy: Path, data_dir: Path, option: str, value: str, fragment: str) -> None:
    result = cli("stylize", data_dir / "models/reference/amber.jpg", "-o", tmp_path / "o.png", "--style", candy, option, value)
    assert_one_line_error(result, fragment)
    assert not list(tmp_path.iterdir())


def test_existing_output_folder_is_refused_before_any_work(tmp_path: Path, candy: Path, data_dir: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(FdstyleError, match="output folder already exists"):
        FrameSink(tmp_path / "out", fps=25)  # at the start, not after processing the whole input
    for args in (["-o", tmp_path / "out"], ["-o", tmp_path / "o.png", "--mask-output", tmp_path / "out"]):
        result = cli("stylize", data_dir / "models/reference/amber.jpg", "--style", candy, *args)
        assert_one_line_error(result, "output folder already exists")
        assert [p.name for p in tmp_path.iterdir()] == ["out"], "no partial output left behind"


def test_frame_folders_are_read_in_natural_order(tmp_path: Path) -> None:
    for index in (10, 2, 1):
        cv2.imwrite(str(tmp_path / f"frame{index}.png"), np.full((4, 4, 3), index, np.uint8))
    frames = list(open_source(str(tmp_path)).frames())
    assert [int(f[0, 0, 0]) for f in frames] == [1, 2, 10]


def test_grey_and_one_pixel_images_work(tmp_path: Path, candy: Path) -> None:
    grey_image, dot = tmp_path / "grey.png", tmp_path / "dot.png"
    cv2.imwrite(str(grey_image), np.full((20, 30), 90, np.uint8))
    cv2.imwrite(str(dot), np.full((1, 1, 3), 200, np.uint8))
    for source in (grey_image, dot):
        out = tmp_path / f"out-{source.name}"
        result = cli("stylize", source, "-o", out, "--style", candy)
        assert result.returncode == 0, result.stderr
        assert cv2.imread(str(out)).shape[:2] == cv2.imread(str(source), cv2.IMREAD_UNCHANGED).shape[:2]


def test_styles_lists_user_folder(tmp_path: Path, candy: Path) -> None:
    (tmp_path / "my_candy.pth").write_bytes(candy.read_bytes())
    result = cli("styles", tmp_path)
    assert result.returncode == 0 and "my_candy" in result.stdout


def test_stylize_screen_region_under_xvfb(candy: Path, tmp_path: Path) -> None:
    """`screen:X,Y,W,H` grabs a real (virtual) screen with mss, painted at the height that keeps up live."""
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "320x240x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        display = os.read(read_fd, 16).decode().strip()
        assert display, "Xvfb did not report a display"
        out = tmp_path / "screen.mp4"
        result = subprocess.run(
            [sys.executable, "-m", "fdstyle_core", "stylize", "screen:10,20,64,48", "-o", str(out),
             "--style", str(candy), "--max-frames", "3"],
            cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, "DISPLAY": f":{display}"},
        )
        assert result.returncode == 0, result.stderr
        assert "Automatic:" in result.stdout, result.stdout
        frames = video_frames(out)  # as many as 30 fps take for the time the three paintings took
        assert frames and frames[0].shape == (48, 64, 3)
        assert len(frames) == 3 or "3 painted" in result.stdout, result.stdout
    finally:
        os.close(read_fd)
        xvfb.terminate()
        xvfb.wait(timeout=10)


def test_automatic_on_a_live_source_follows_the_frames_painted(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As in OBS, Automatic on the command line judges the frames it paints live: frames slower than
    the camera's period (made so on any machine) step it down from the height it measured."""
    clip = data_dir / "videos/talking/retalking_1.mp4"
    monkeypatch.setattr(stylize, "open_source", lambda spec: VideoCapture(str(clip), live=True))  # a camera filming a talking head
    monkeypatch.setattr(Pipeline, "_measure_height", lambda self, height, width: HeightChoice(height, f"{height} rows: measured"))
    monkeypatch.setattr(height_keeper, "SLOW_PERIOD_FACTOR", 0.0)  # every frame is too slow
    args = build_parser().parse_args(["stylize", "0", "-o", str(tmp_path / "out.mp4"), "--resize", "640x360", "--max-frames", "40"])
    assert stylize.run(args) == 0
    assert "Automatic: 288 rows: stepped down" in capsys.readouterr().out


def test_a_live_recording_lasts_as_long_as_it_was_recorded(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Painting slower than the camera: each painting is held for the camera frames it took, so the
    video (and its mask video) plays at the speed it was recorded, not faster."""
    clip = data_dir / "videos/talking/retalking_1.mp4"  # 22 fps
    monkeypatch.setattr(stylize, "open_source", lambda spec: VideoCapture(str(clip), live=True))
    process = Pipeline.process

    def slow(self: Pipeline, frame: np.ndarray) -> np.ndarray:
        time.sleep(0.1)  # at most 10 paintings a second, whatever the machine
        return process(self, frame)

    monkeypatch.setattr(Pipeline, "process", slow)
    out, mask = tmp_path / "me.mp4", tmp_path / "mask.mp4"
    args = build_parser().parse_args(
        ["stylize", "0", "-o", str(out), "--mask-output", str(mask), "--resize", "64x64", "--max-frames", "20"]
    )
    started = time.perf_counter()
    assert stylize.run(args) == 0
    took = time.perf_counter() - started
    written = len(video_frames(out))
    assert 19 * 0.1 * 22 * 0.9 <= written <= took * 22.2 + 1  # the recording's length at the camera's rate
    assert len(video_frames(mask)) == written
    assert "20 painted" in capsys.readouterr().out
    shot = tmp_path / "shot.png"  # a picture of a camera holds one painting
    assert stylize.run(build_parser().parse_args(["stylize", "0", "-o", str(shot), "--max-frames", "1"])) == 0
    assert shot.exists()


def test_a_live_timeline_skips_paintings_made_faster_than_the_source() -> None:
    """At 10 frames a second, a second of paintings is 11 frames, whether 20 or 5 were painted;
    the time spent writing is not part of it."""
    for paintings in (20, 5):
        timeline = stylize._Timeline(fps=10)
        counts = [timeline.copies(index / paintings) for index in range(paintings + 1)]
        assert counts[0] == 1 and sum(counts) == 11, counts
    timeline = stylize._Timeline(fps=10, writing_s=0.5)
    assert timeline.copies(0.0) == 1 and timeline.copies(1.0) == 5


@pytest.mark.parametrize(("signal_number", "exit_code", "word"), [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_stopping_a_run_removes_partial_output(tmp_path: Path, candy: Path, data_dir: Path, signal_number: int, exit_code: int, word: str) -> None:
    out, mask = tmp_path / "out.mp4", tmp_path / "mask.mp4"
    run = subprocess.Popen(  # 2050 frames: minutes of work, so the stop always comes mid-run
        [sys.executable, "-m", "fdstyle_core", "stylize", str(data_dir / "videos/cdnet_office/input"), "-o", str(out),
         "--mask-output", str(mask), "--style", str(candy), "--resize", "64x48"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a background shell ignores SIGINT
    )

    def frames_written() -> bool:
        return any(part.stat().st_size > 0 for part in tmp_path.glob(".out.*part*"))

    deadline = time.monotonic() + 120
    while not frames_written() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert run.poll() is None and frames_written(), "the run should be writing frames"
    run.send_signal(signal_number)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == exit_code and stderr.strip().splitlines() == [word], stderr
    assert not list(tmp_path.iterdir()), "nothing half-written is left behind"


def test_unwritable_outputs_give_one_line(tmp_path: Path, candy: Path, data_dir: Path) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    image = data_dir / "models/reference/amber.jpg"
    assert_one_line_error(cli("stylize", image, "-o", a_file / "o.png", "--style", candy), "Not a directory")
    clip = data_dir / "videos/talking/retalking_1.mp4"
    for args, fragment in [
        (["eval", clip, "--style", candy, "--json", a_file / "x.json"], "is not a writable folder"),
        (["eval", clip, "--style", candy, "--plots", a_file / "plots"], "is not a writable folder"),
        (["eval-mask", data_dir / "videos/cdnet_office", "--json", tmp_path], "is a folder, not a file"),
        (["bench", "--style", candy, "--json", a_file / "b.json"], "is not a writable folder"),
    ]:
        assert_one_line_error(cli(*args), fragment)  # refused before the run, not after it
    assert [p.name for p in tmp_path.iterdir()] == ["a_file"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["bench", "--sizes", "64"], "bad size"), (["bench", "--sizes", ","], "at least one size"),
     (["bench", "--devices", ","], "at least one device"), (["eval-mask", "x", "--stride", "0"], "whole number ≥ 1"),
     (["eval-mask", "x", "--max-frames", "-1"], "whole number ≥ 0"), (["eval-mask", "x", "--top", "-1"], "whole number ≥ 1"),
     (["eval", "x", "--start", "-5"], "whole number ≥ 0"), (["eval", "x", "--recent", "0"], "whole number ≥ 1")],
)
def test_bad_numbers_give_one_line(args: list[str], fragment: str) -> None:
    assert_one_line_error(cli(*args), fragment)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), replaced_on_success(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("stopped midway")
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]
    with replaced_on_success(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and list(tmp_path.iterdir()) == [target]


def test_a_replaced_file_keeps_its_link_and_permissions(tmp_path: Path) -> None:
    shared, link = tmp_path / "shared.json", tmp_path / "link.json"
    shared.write_text("old")
    shared.chmod(0o664)
    link.symlink_to(shared)
    with replaced_on_success(link) as first, replaced_on_success(link) as second:
        assert first != second, "two writers never share a temporary file"
        first.write_text("one")
        second.write_text("two")
    assert link.is_symlink() and shared.read_text() == "one"
    assert shared.stat().st_mode & 0o777 == 0o664


def test_clean_up_after_a_stop_is_not_cut_short_by_a_second_signal() -> None:
    def got_through(number: int, frame: object) -> None:
        raise AssertionError(f"signal {number} reached the clean-up")

    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, got_through) for number in stops}
    try:
        with stop_signals_ignored():
            for number in stops:  # a second Ctrl-C, a SIGTERM, while partial files are being removed
                os.kill(os.getpid(), number)
            time.sleep(0.05)
        assert all(signal.getsignal(number) is got_through for number in stops), "handlers restored"
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def test_doctor_prints_one_row_per_device_engine_and_precision(candy: Path) -> None:
    result = cli("doctor", "--style", candy, "--repeats", "1")
    assert result.returncode == 0, result.stderr
    for engine in ("torch", "openvino"):
        rows = [line for line in result.stdout.splitlines() if line.startswith(f"| cpu | {engine} | fp32 |")]
        assert len(rows) == 1, result.stdout
        mean, worst, full_ms, region_ms = (float(cell) for cell in rows[0].strip("|").split("|")[-4:])
        assert full_ms > 0 and region_ms > 0 and mean < 0.1 and worst < 8  # a synthetic frame; real ones: tests/test_engines.py
    assert "cpu: auto picks openvino CPU" in result.stdout


def test_a_library_call_stylizes_a_video(data_dir: Path, candy: Path, tmp_path: Path) -> None:
    from fdstyle_core import PipelineConfig, stylize_video

    frames = tmp_path / "in"
    frames.mkdir()
    image = cv2.imread(str(data_dir / "models" / "reference" / "amber.jpg"))[:64, :64]
    for index in range(3):
        cv2.imwrite(str(frames / f"{index}.png"), image)
    assert stylize_video(str(frames), tmp_path / "out.mp4", PipelineConfig(style=str(candy))) == 3
    assert len(video_frames(tmp_path / "out.mp4")) == 3


def test_bench_without_a_style_times_the_shipped_default() -> None:
    result = cli("bench", "--sizes", "64x48", "--modes", "perframe", "--engines", "torch", "--repeats", "1", "--warmup", "1")
    assert result.returncode == 0, result.stderr
    assert "64x48" in result.stdout and "perframe" in result.stdout


def test_bench_compares_styles_side_by_side(candy: Path, tmp_path: Path) -> None:
    """Two styles in one run: a row each, and the second's speed as a multiple of the first's."""
    result = cli(
        "bench", "--style", f"{candy},starry_night", "--sizes", "64x48", "--modes", "perframe", "--engines", "torch",
        "--repeats", "1", "--warmup", "1", "--json", tmp_path / "b.json",
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads((tmp_path / "b.json").read_text())["results"]
    assert [r["style"] for r in rows] == ["candy", "starry_night"]
    assert re.search(r"starry_night torch cpu fp32 64x48 perframe: [\d.]+× candy's speed", result.stdout)


def test_frame_at_reads_one_frame_and_names_a_missing_one(data_dir: Path, tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    image = cv2.imread(str(data_dir / "models" / "reference" / "amber.jpg"))[:32, :48]
    for index in range(3):
        cv2.imwrite(str(frames / f"{index}.png"), np.roll(image, index, axis=1))
    assert np.array_equal(frame_at(frames, 2), cv2.cvtColor(np.roll(image, 2, axis=1), cv2.COLOR_BGR2RGB))
    with pytest.raises(FdstyleError, match="has no frame 3"):
        frame_at(frames, 3)
