"""`python -m fdstyle_core bench`: per-stage milliseconds and fps per style, mode, size, device, engine and precision.

Frames are synthetic (a textured still background with a moving disc, like a head in front of a
wall), so the numbers need no data and every mode sees motion; or, with ``--clip``, a real clip's
first frames resized to each size.  Warm-up frames are dropped and per-stage medians reported.
Modes that skip work (no network call without motion, region painting) make frames uneven, so
the ratio against `perframe` (same run, same frames) is of the *mean* time per frame, the
throughput; network calls and region calls per frame show where the time went.
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from fdstyle_core.engine.inference.openvino_engine import native_bf16
from fdstyle_core.engine.selection import available_devices, available_engines
from fdstyle_core.errors import FdstyleError
from fdstyle_core.cli.evaluate import method_settings, parse_methods
from fdstyle_core.cli.options import (
    non_negative_int, output_file, parse_processing_height, parse_size_arg, positive_int, style_argument, write_json,
)
from fdstyle_core.engine.pipeline import FULL_SIZE, Pipeline, PipelineConfig
from fdstyle_core.stabilizers import MODES
from fdstyle_core.io.video import open_source, resized

DEFAULT_SIZES = "640x480,1024x436,1280x720,1920x1080"
STAGES = ("upload", "network", "stabilize", "download", "total")
# How far the disc moves per frame, in pixels.
DISC_STEP = 6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--style", help="style name or .pth path, or several comma-separated to compare them (default: the shipped default style)"
    )
    parser.add_argument("--sizes", type=_sizes, default=DEFAULT_SIZES, help="comma-separated WxH list")
    parser.add_argument(
        "--modes", default=",".join(MODES), help=f"comma-separated, from {', '.join(MODES)}; MODE:FIELD=VALUE:… as in eval"
    )
    parser.add_argument("--devices", help=f"comma-separated (default: all available: {', '.join(available_devices())})")
    parser.add_argument(
        "--engines", help=f"comma-separated, for the CPU (default: all installed: {', '.join(available_engines())})"
    )
    parser.add_argument("--precisions", help="comma-separated fp32/fp16/bf16 (default: fp32, plus fp16 on GPUs)")
    parser.add_argument("--threads", type=non_negative_int, default=0, help="CPU threads for the network (0 = all cores)")
    parser.add_argument(
        "--processing-height", type=parse_processing_height, default=FULL_SIZE,
        help="paint at most this many rows high (0 = frame size; auto = what the OBS script uses by default)",
    )
    parser.add_argument("--warmup", type=positive_int, default=2, help="frames run first and not timed (≥ 1)")
    parser.add_argument("--repeats", type=positive_int, default=5, help="timed frames per configuration")
    parser.add_argument("--clip", help="time on this video or frame folder's first warm-up + repeats frames instead of synthetic ones")
    parser.add_argument("--json", type=output_file, help="write the results here")


def synthetic_frames(width: int, height: int, count: int) -> list[np.ndarray]:
    """A still textured background and a disc sliding across it."""
    gen = np.random.default_rng(0)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    background = np.stack([xs / width * 200, ys / height * 200, 120 + 60 * np.sin(xs / 23) * np.cos(ys / 17)], axis=2)
    background += gen.normal(0, 8, background.shape)
    radius = height / 4
    frames = []
    for i in range(count):
        cx = width / 3 + i * DISC_STEP
        disc = (xs - cx) ** 2 + (ys - height / 2) ** 2 < radius**2
        frame = background.copy()
        frame[disc] = (230, 180, 150)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def clip_frames(spec: str, width: int, height: int, count: int) -> list[np.ndarray]:
    """The clip's first ``count`` frames, resized to width×height (area averaging when shrinking)."""
    source = open_source(spec)
    frames: list[np.ndarray] = []
    try:
        for frame in source.frames():
            if len(frames) == count:
                break
            frames.append(resized(frame, width, height))
    finally:
        source.close()
    if len(frames) < count:
        raise FdstyleError(f"{spec} has {len(frames)} frames, --warmup + --repeats asks for {count}")
    return frames


def _split(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _sizes(text: str) -> list[tuple[int, int]]:
    sizes = [parse_size_arg(size) for size in _split(text)]
    if not sizes:
        raise argparse.ArgumentTypeError("give at least one size, e.g. 640x480")
    return sizes


def _precisions(device: str, engine: str, chosen: str | None) -> list[str]:
    """fp32 everywhere (the laptop-representative figure on a CPU), plus the half precision the device is fast at."""
    if chosen:
        return _split(chosen)
    if device != "cpu":
        return ["fp32", "fp16"]
    return ["fp32", "bf16"] if engine == "openvino" and native_bf16() else ["fp32"]


def time_mode(pipeline: Pipeline, frames: list[np.ndarray], warmup: int) -> dict:
    """Over the frames after the warm-up ones: median ms per stage, mean total ms, network calls per frame."""
    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    passes = region_passes = 0
    for index, frame in enumerate(frames):
        pipeline.process(frame)
        if index >= warmup:
            for stage in STAGES:
                samples[stage].append(pipeline.timings[stage])
            passes += pipeline.last_work.passes
            region_passes += pipeline.last_work.region_passes
    timed = len(frames) - warmup
    return {
        "ms": {stage: float(np.median(values)) for stage, values in samples.items()},
        "mean_ms": float(np.mean(samples["total"])),
        "calls_per_frame": passes / timed,
        "region_calls_per_frame": region_passes / timed,
    }


def run(args: argparse.Namespace) -> int:
    modes = parse_methods(args.modes)
    devices = _split(args.devices) if args.devices is not None else available_devices()
    if not devices:
        raise FdstyleError("--devices: give at least one device, e.g. cpu")
    gpu = [d for d in available_devices() if d != "cpu"]
    note = f"GPU devices: {', '.join(gpu)}" if gpu else "no GPU on this machine: CPU figures only"
    print(f"{note}; torch {torch.__version__}, {torch.get_num_threads()} CPU threads; medians of {args.repeats} frames after {args.warmup} warm-up")
    styles = _split(args.style) if args.style else [style_argument(args)]
    if not styles:
        raise FdstyleError("--style: give at least one style name or .pth path")
    labels = {style: Path(style).stem for style in styles}  # the whole argument where two files share a name
    if len(set(labels.values())) < len(styles):
        labels = {style: style for style in styles}
    results, ratios = [], []
    engines = _split(args.engines) if args.engines is not None else available_engines()
    jobs = [
        (style, d, e, p, size)
        for style in styles
        for size in args.sizes
        for d in devices
        for e in (engines if d in ("cpu", "intel-gpu", "npu") else ["torch"])
        for p in _precisions(d, e, args.precisions)
    ]
    bar = tqdm(total=len(jobs) * len(modes), desc="bench", unit="run", file=sys.stderr, disable=None)
    for style, device, engine, precision, (width, height) in jobs:
        count = args.warmup + args.repeats
        frames = clip_frames(args.clip, width, height, count) if args.clip else synthetic_frames(width, height, count)
        config = PipelineConfig(
            style=style, device=device, engine=engine, precision=precision, threads=args.threads,
            processing_height=args.processing_height,
        )
        pipeline = Pipeline(config, timed=True)
        if pipeline.choice.notice:
            print(f"note: {pipeline.choice.notice}", file=sys.stderr)
        engine_used = pipeline.choice.engine
        where = {
            "style": labels[style], "engine": engine_used.label, "engine_name": engine_used.name, "precision": engine_used.precision,
        }
        painted = pipeline.painter.processing_height
        size_label = f"{width}x{height}" + (f"@{painted}p" if 0 < painted < height else "")  # painted smaller
        totals = {}
        for mode in modes:
            name, mask = method_settings(mode, config.mask)
            pipeline.configure(replace(config, mode=name, mask=mask))
            pipeline.reset()  # a variant of the previous mode is only retuned by configure: start it afresh too
            timing = time_mode(pipeline, frames, args.warmup)
            totals[mode] = timing["mean_ms"]
            results.append({**where, "size": size_label, "mode": mode, **timing, "fps": 1000 / timing["mean_ms"]})
            bar.update(1)
        if "perframe" in totals and len(totals) > 1:
            over = {f"{mode}_over_perframe": total / totals["perframe"] for mode, total in totals.items() if mode != "perframe"}
            ratios.append({**where, "size": size_label, **over})
    bar.close()
    speedups, by_style = engine_speedups(results), style_speedups(results)
    print_table(results, ratios, speedups, by_style)
    if args.json:
        machine = {"platform": platform.platform(), "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}
        report = {"note": note, "torch": torch.__version__, "machine": machine, "warmup": args.warmup, "repeats": args.repeats}
        report["frames"] = args.clip or "synthetic moving disc"
        write_json(args.json, {**report, "results": results, "ratios": ratios, "engine_speedups": speedups, "style_speedups": by_style})
    return 0


def _speed_ratios(results: list[dict], is_baseline: Callable[[dict], bool], matched_on: tuple[str, ...], name: str) -> list[dict]:
    """The baseline rows' mean time over each other row's with the same ``matched_on`` settings (same run)."""
    baseline = {tuple(r[k] for k in matched_on): r["mean_ms"] for r in results if is_baseline(r)}
    return [
        {"style": r["style"], "engine": r["engine"], "size": r["size"], "mode": r["mode"], name: baseline[key] / r["mean_ms"]}
        for r in results
        if not is_baseline(r) and (key := tuple(r[k] for k in matched_on)) in baseline
    ]


def engine_speedups(results: list[dict]) -> list[dict]:
    """torch's mean time over each other engine's, per style, size, mode and precision."""
    return _speed_ratios(results, lambda r: r["engine_name"] == "torch", ("style", "size", "mode", "precision"), "over_torch")


def style_speedups(results: list[dict]) -> list[dict]:
    """The first style's mean time over each other style's, per engine, precision, size and mode."""
    first = results[0]["style"]
    ratios = _speed_ratios(results, lambda r: r["style"] == first, ("engine", "precision", "size", "mode"), "over_first")
    return [{**r, "first": first} for r in ratios]


def print_table(results: list[dict], ratios: list[dict], speedups: list[dict], by_style: list[dict]) -> None:
    compares_styles = len({r["style"] for r in results}) > 1
    width = max(9, *(len(r["mode"]) for r in results))
    style_width = max(len(r["style"]) for r in results) + 1 if compares_styles else 0

    def style(r: dict) -> str:
        return f"{r['style']:<{style_width}}" if compares_styles else ""

    header = f"\n{'style' if compares_styles else '':<{style_width}}{'engine':<28} {'prec':<5} {'size':<15} {'mode':<{width}}"
    print(header + "".join(f"{s:>10}" for s in STAGES) + f"{'mean':>10}{'calls/f':>9}{'region/f':>9}{'fps':>8}")
    for r in results:
        cells = "".join(f"{r['ms'][s]:10.1f}" for s in STAGES)
        counts = f"{r['mean_ms']:10.1f}{r['calls_per_frame']:9.2f}{r['region_calls_per_frame']:9.2f}"
        print(f"{style(r)}{r['engine']:<28} {r['precision']:<5} {r['size']:<15} {r['mode']:<{width}}{cells}{counts}{r['fps']:8.2f}")
    for r in ratios:
        over = ", ".join(f"{key.removesuffix('_over_perframe')} {value:.3f}×" for key, value in r.items() if key.endswith("_over_perframe"))
        print(f"mean time / perframe's, {style(r)}{r['engine']} {r['size']}: {over}")
    for r in speedups:
        print(f"{style(r)}{r['engine']} {r['size']} {r['mode']}: {r['over_torch']:.2f}× torch's speed (same run)")
    for r in by_style:
        print(f"{r['style']} {r['engine']} {r['size']} {r['mode']}: {r['over_first']:.2f}× {r['first']}'s speed (same run)")
