"""`python -m fdstyle_core bench`: per-stage milliseconds and fps per mode, size, device and precision.

Frames are synthetic (a textured still background with a moving disc, like a head in front of a
wall), so the numbers need no data and every mode sees motion.  Warm-up frames are dropped and
medians reported; the paper/perframe ratio comes from the same run on the same frames.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .devices import available_devices, device_label
from .errors import FdstyleError
from .options import parse_size_arg, style_argument
from .pipeline import MODES, Pipeline, PipelineConfig

DEFAULT_SIZES = "640x480,1024x436,1280x720,1920x1080"
STAGES = ("upload", "network", "stabilize", "download", "total")
# How far the disc moves per frame, in pixels.
DISC_STEP = 6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--style", help="style name or .pth path (default: the shipped default style)")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated WxH list")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, from {', '.join(MODES)}")
    parser.add_argument("--devices", help=f"comma-separated (default: all available: {', '.join(available_devices())})")
    parser.add_argument("--precisions", help="comma-separated fp32/fp16 (default: fp32, plus fp16 on GPUs)")
    parser.add_argument("--warmup", type=int, default=2, help="frames run first and not timed (≥ 1)")
    parser.add_argument("--repeats", type=int, default=5, help="timed frames per configuration")
    parser.add_argument("--json", type=Path, help="write the results here")


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


def _split(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _precisions(device: str, chosen: str | None) -> list[str]:
    if chosen:
        return _split(chosen)
    return ["fp32"] if device == "cpu" else ["fp32", "fp16"]


def time_mode(pipeline: Pipeline, frames: list[np.ndarray], warmup: int) -> dict[str, float]:
    """Median milliseconds per stage over the frames after the warm-up ones."""
    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for index, frame in enumerate(frames):
        pipeline.process(frame)
        if index >= warmup:
            for stage in STAGES:
                samples[stage].append(pipeline.timings[stage])
    return {stage: float(np.median(values)) for stage, values in samples.items()}


def run(args: argparse.Namespace) -> int:
    sizes = [parse_size_arg(s) for s in _split(args.sizes)]
    modes = _split(args.modes)
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise FdstyleError(f"unknown mode(s) '{', '.join(unknown)}' (choose from {', '.join(MODES)})")
    if args.warmup < 1 or args.repeats < 1:
        raise FdstyleError("--warmup and --repeats must be ≥ 1")
    devices = _split(args.devices) if args.devices else available_devices()
    gpu = [d for d in available_devices() if d != "cpu"]
    note = f"GPU devices: {', '.join(gpu)}" if gpu else "no GPU on this machine: CPU figures only"
    print(f"{note}; torch {torch.__version__}, {torch.get_num_threads()} CPU threads; medians of {args.repeats} frames after {args.warmup} warm-up")
    style = style_argument(args)
    results, ratios = [], []
    jobs = [(d, p, size) for d in devices for p in _precisions(d, args.precisions) for size in sizes]
    bar = tqdm(total=len(jobs) * len(modes), desc="bench", unit="run", file=sys.stderr, disable=None)
    for device, precision, (width, height) in jobs:
        frames = synthetic_frames(width, height, args.warmup + args.repeats)
        config = PipelineConfig(style=style, mode=modes[0], device=device, precision=precision)
        pipeline = Pipeline(config)
        where = {"device": device_label(pipeline.device), "precision": "fp16" if pipeline.dtype == torch.float16 else "fp32"}
        totals = {}
        for mode in modes:
            pipeline.configure(replace(config, mode=mode))
            medians = time_mode(pipeline, frames, args.warmup)
            totals[mode] = medians["total"]
            results.append(
                {
                    **where,
                    "size": f"{width}x{height}",
                    "mode": mode,
                    "ms": medians,
                    "fps": 1000 / medians["total"],
                }
            )
            bar.update(1)
        if "paper" in totals and "perframe" in totals:
            ratios.append(
                {**where, "size": f"{width}x{height}", "paper_over_perframe": totals["paper"] / totals["perframe"]}
            )
    bar.close()
    print_table(results, ratios)
    if args.json:
        machine = {"platform": platform.platform(), "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}
        report = {"note": note, "torch": torch.__version__, "machine": machine, "warmup": args.warmup, "repeats": args.repeats}
        args.json.write_text(json.dumps({**report, "results": results, "ratios": ratios}, indent=1))
        print(f"wrote {args.json}")
    return 0


def print_table(results: list[dict], ratios: list[dict]) -> None:
    print(f"\n{'device':<28} {'prec':<5} {'size':<10} {'mode':<9}" + "".join(f"{s:>10}" for s in STAGES) + f"{'fps':>8}")
    for r in results:
        cells = "".join(f"{r['ms'][s]:10.1f}" for s in STAGES)
        print(f"{r['device']:<28} {r['precision']:<5} {r['size']:<10} {r['mode']:<9}{cells}{r['fps']:8.2f}")
    for r in ratios:
        print(f"paper / perframe time, {r['device']} {r['precision']} {r['size']}: {r['paper_over_perframe']:.3f}×")
