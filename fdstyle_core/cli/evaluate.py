"""`python -m fdstyle_core eval`: every method on the same frames, scored on stability, staleness and fidelity.

The per-frame stylization S_t is computed once per frame and handed to every method's stabilizer,
so a full pass runs once per frame, not once per frame per method (region passes, which reuse
the statistics of the last full pass a method asked for, run for real); S_t is also the reference for
ghost error, fidelity and seam visibility, and the `perframe` output for the follow ratio.

A method may carry its own mask settings, ``MODE:FIELD=VALUE:…`` (fields of
:class:`~fdstyle_core.stabilizers.base.MaskParams`, e.g. ``reference:feather=0``), so variants are
compared on the same frames in one run.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from fdstyle_core.evaluation import metrics
from fdstyle_core.evaluation.cdnet import CdnetClip, is_cdnet_clip
from fdstyle_core.errors import FdstyleError
from fdstyle_core.cli.options import (
    add_pipeline_options, mask_params, non_negative_int, output_file, output_folder, pipeline_config, positive_int,
    prepare_frame, write_json,
)
from fdstyle_core.stabilizers import MODES, make_stabilizer
from fdstyle_core.engine.network import Stats
from fdstyle_core.engine.painter import Box
from fdstyle_core.engine.pipeline import Pipeline
from fdstyle_core.stabilizers.base import MaskParams
from fdstyle_core.io.video import open_source

# How many frames back a pixel counts as "recently foreground" for the ghost error.
DEFAULT_RECENT = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", help="video files, frame folders, or CDnet clip folders (ground truth used)")
    parser.add_argument(
        "--methods",
        default=",".join(MODES),
        help=f"comma-separated, from {', '.join(MODES)}; MODE:FIELD=VALUE:… overrides mask settings (e.g. reference:feather=0)",
    )
    add_pipeline_options(parser)
    parser.add_argument("--start", type=non_negative_int, help="first frame (default: 0; CDnet clips: the temporal ROI's first)")
    parser.add_argument("--recent", type=positive_int, default=DEFAULT_RECENT, help="frames a pixel stays 'recently uncovered'")
    parser.add_argument("--json", type=output_file, help="write all scores here")
    parser.add_argument("--plots", type=output_folder, help="write figures into this folder")


@dataclass
class Clip:
    name: str
    frames: list[np.ndarray]
    foreground: list[np.ndarray]  # True = foreground, from ground truth or input motion
    ground_truth: bool


def _resize_truth(labels: np.ndarray, frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)


def load_clip(spec: str, args: argparse.Namespace) -> Clip:
    """Frames after --start, --resize and --max-frames; CDnet clips bring their foreground truth."""
    path = Path(spec)
    limit = args.max_frames or None
    if is_cdnet_clip(path):
        clip = CdnetClip.open(path)
        first = clip.first if args.start is None else max(1, args.start)
        last = clip.last if limit is None else min(clip.last, first + limit - 1)
        indices = range(first, last + 1)
        frames = [prepare_frame(clip.frame(i), args) for i in tqdm(indices, desc="read", file=sys.stderr, disable=None)]
        truth = [_resize_truth(clip.truth(i), f) == metrics.CDNET_FOREGROUND for i, f in zip(indices, frames)]
        return Clip(path.name, frames, truth, True)
    source = open_source(spec)
    frames = []
    try:
        for index, frame in enumerate(source.frames()):
            if index < (args.start or 0):
                continue
            if limit is not None and len(frames) >= limit:
                break
            frames.append(prepare_frame(frame, args))
    finally:
        source.close()
    if len(frames) < 2:
        raise FdstyleError(f"{spec}: need at least 2 frames to evaluate, got {len(frames)}")
    return Clip(path.stem or spec, frames, metrics.motion_foreground(frames), False)


class CachedStylize:
    """The painter handed to stabilizers: full passes return this frame's S_t without running the
    network, region passes run the real network with the statistics of the last full pass asked
    for, so each method is scored on what it paints live.

    A stabilizer that asks for anything other than the frame itself gets a real network run.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.frame: torch.Tensor | None = None
        self.styled: torch.Tensor | None = None
        self.stats: Stats | None = None
        self.full_passes = 0

    def prime(self, frame: torch.Tensor, styled: torch.Tensor, stats: Stats) -> None:
        self.frame, self.styled, self.stats = frame, styled, stats

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        assert self.frame is not None and self.styled is not None and self.stats is not None
        self.full_passes += 1
        if x.shape == self.frame.shape and torch.equal(x, self.frame):
            self.pipeline.painter.use_statistics(self.stats)
            return self.styled.clone()
        images = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        outputs = []
        for image in images:
            self.pipeline.process(image)
            assert self.pipeline.last_result is not None
            outputs.append(self.pipeline.last_result.output)
        return torch.cat(outputs)

    @property
    def has_statistics(self) -> bool:
        return self.pipeline.painter.has_statistics

    def regions(self, frame: torch.Tensor, boxes: list[Box]) -> list[torch.Tensor]:
        return self.pipeline.painter.regions(frame, boxes)

    def region_cost(self, height: int, width: int, box: Box) -> float:
        return self.pipeline.painter.region_cost(height, width, box)


@dataclass
class Stylized:
    """S_t for every frame, as the network gave it (float, on the device) and as uint8 frames."""

    tensors: list[torch.Tensor] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    stats: list[Stats] = field(default_factory=list)
    network_ms: list[float] = field(default_factory=list)


def stylize_all(pipeline: Pipeline, clip: Clip) -> Stylized:
    stylized = Stylized()
    for frame in tqdm(clip.frames, desc=f"stylize {clip.name}", unit="frame", file=sys.stderr, disable=None):
        stylized.frames.append(pipeline.process(frame))
        assert pipeline.last_result is not None and pipeline.painter.statistics is not None
        stylized.tensors.append(pipeline.last_result.output)
        stylized.stats.append(pipeline.painter.statistics)
        stylized.network_ms.append(pipeline.timings["network"])
    return stylized


@dataclass
class MethodRun:
    outputs: list[np.ndarray]
    kept: list[np.ndarray | None]  # True = kept from the previous output
    stabilize_ms: float  # median time of the method's own work per frame, network excluded
    full_share: float  # share of frames on which the method asked for a full-frame stylization
    region_ms: float  # mean network time per frame of its region passes


def run_method(method: str, clip: Clip, stylized: Stylized, pipeline: Pipeline, args: argparse.Namespace) -> MethodRun:
    mode, params = method_settings(method, mask_params(args))
    stabilizer = make_stabilizer(mode, params)
    cached = CachedStylize(pipeline)
    outputs, kept, times, region_ms = [], [], [], []
    pipeline.painter.take_work()
    for frame, styled, stats in tqdm(
        list(zip(clip.frames, stylized.tensors, stylized.stats)), desc=method, unit="frame", file=sys.stderr, disable=None
    ):
        with torch.inference_mode():
            x = torch.from_numpy(frame).to(pipeline.device).permute(2, 0, 1)[None].float()
            cached.prime(x, styled, stats)
            started = time.perf_counter()
            result = stabilizer.step(x, cached)
            network = pipeline.painter.take_work().network_ms
            times.append((time.perf_counter() - started) * 1000 - network)
            region_ms.append(network)
            outputs.append(result.output.round().clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).cpu().numpy())
            kept.append(None if result.mask is None else result.mask[0, 0].cpu().numpy() > 0.5)
    frames = len(clip.frames)
    return MethodRun(outputs, kept, float(np.median(times)), cached.full_passes / frames, float(np.mean(region_ms)))


def score(clip: Clip, method: MethodRun, stylized: Stylized, references: list[metrics.WarpReference], args: argparse.Namespace) -> dict:
    """Every metric of one method; speed is the network's median full pass (when it ran), its region
    passes and the method's own work."""
    network_ms = float(np.median(stylized.network_ms))
    ghost = metrics.ghosting(method.outputs, stylized.frames, method.kept, clip.foreground, args.recent)
    frame_ms = network_ms * method.full_share + method.region_ms + method.stabilize_ms
    foreground = clip.foreground if clip.ground_truth else None
    return {
        "e_warp": metrics.warp_error(method.outputs, references),
        "background_flicker": metrics.background_flicker(clip.frames, method.outputs, foreground),
        "ghost_error": ghost.error,
        "stale_fraction": ghost.stale,
        "fidelity": metrics.fidelity(clip.frames, method.outputs, stylized.frames),
        "follow": metrics.follow_ratio(clip.frames, method.outputs, stylized.frames),
        "seam": metrics.seam_visibility(method.outputs, stylized.frames, method.kept),
        "stabilize_ms": method.stabilize_ms,
        "region_ms": method.region_ms,
        "frame_ms": frame_ms,
        "fps": 1000 / frame_ms if frame_ms > 0 else math.inf,
    }


COLUMNS = (
    ("e_warp", "E_warp", "{:.5f}"),
    ("background_flicker", "BF", "{:.2f}"),
    ("ghost_error", "GE", "{:.2f}"),
    ("stale_fraction", "stale", "{:.3f}"),
    ("fidelity", "fidelity", "{:.2f}"),
    ("follow", "follow", "{:.3f}"),
    ("seam", "seam", "{:.2f}"),
    ("stabilize_ms", "stab ms", "{:.1f}"),
    ("fps", "fps", "{:.2f}"),
)


def print_table(name: str, scores: dict[str, dict]) -> None:
    print(f"\n{name}")
    width = max(10, *(len(m) + 1 for m in scores))
    print(f"{'method':<{width}}" + "".join(f"{title:>10}" for _, title, _ in COLUMNS))
    for method, row in scores.items():
        print(f"{method:<{width}}" + "".join(f"{_cell(row[key], fmt):>10}" for key, _, fmt in COLUMNS))


def _cell(value: float, fmt: str) -> str:
    """A score, or "–" where it does not apply (e.g. no seam in a method without a mask)."""
    return "–" if isinstance(value, float) and math.isnan(value) else fmt.format(value)


_FIELD_TYPES = {f.name: type(getattr(MaskParams(), f.name)) for f in fields(MaskParams)}


def method_settings(method: str, base: MaskParams) -> tuple[str, MaskParams]:
    """``MODE:FIELD=VALUE:…`` → the mode and ``base`` with those fields replaced (threshold may be 'auto')."""
    mode, *overrides = method.split(":")
    changes: dict = {}
    for override in overrides:
        name, _, value = override.partition("=")
        if name not in _FIELD_TYPES or not value:
            raise FdstyleError(f"{method}: expected FIELD=VALUE with FIELD one of {', '.join(_FIELD_TYPES)}")
        if name == "threshold" and value.lower() == "auto":
            changes["auto_threshold"] = True
        elif _FIELD_TYPES[name] is bool:
            changes[name] = value.lower() in ("1", "true", "yes", "on")
        else:
            try:
                changes[name] = _FIELD_TYPES[name](value)
            except ValueError:
                raise FdstyleError(f"{method}: {name} must be a {_FIELD_TYPES[name].__name__}, got '{value}'") from None
    return mode, replace(base, **changes)


def parse_methods(text: str) -> list[str]:
    methods = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m.split(":")[0] not in MODES]
    if unknown or not methods:
        raise FdstyleError(f"unknown method(s) '{', '.join(unknown)}' (choose from {', '.join(MODES)})")
    for method in methods:
        method_settings(method, MaskParams())
    return methods


def run(args: argparse.Namespace) -> int:
    methods = parse_methods(args.methods)
    pipeline = Pipeline(pipeline_config(args, "perframe"), timed=True, statistics=True)
    report: dict = {
        "style": str(pipeline.style_path),
        "device": pipeline.description,
        "flow": "OpenCV DIS, preset MEDIUM",
        "ghost_recent_frames": args.recent,
        "mask": asdict(mask_params(args)),
        "clips": {},
    }
    for spec in args.inputs:
        clip = load_clip(spec, args)
        stylized = stylize_all(pipeline, clip)
        references = metrics.warp_references(clip.frames)
        runs = {method: run_method(method, clip, stylized, pipeline, args) for method in methods}
        scores = {method: score(clip, r, stylized, references, args) for method, r in runs.items()}
        height, width = clip.frames[0].shape[:2]
        title = f"{clip.name}: {len(clip.frames)} frames {width}x{height}, {pipeline.description}, network {np.median(stylized.network_ms):.0f} ms/frame"
        print_table(title, scores)
        report["clips"][clip.name] = {
            "frames": len(clip.frames),
            "size": [width, height],
            "foreground": "ground truth" if clip.ground_truth else "input motion",
            "network_ms": float(np.median(stylized.network_ms)),
            "methods": scores,
        }
        if args.plots:
            from fdstyle_core.evaluation.plots import flicker_over_time, frame_strip, seam_zoom

            args.plots.mkdir(parents=True, exist_ok=True)
            foreground = clip.foreground if clip.ground_truth else None
            flicker = {m: metrics.flicker_per_frame(clip.frames, r.outputs, foreground) for m, r in runs.items()}
            for path in (
                flicker_over_time(clip.name, flicker, args.plots / f"{clip.name}_flicker.png"),
                frame_strip(clip.name, clip.frames, {m: (r.outputs, r.kept) for m, r in runs.items()}, args.plots / f"{clip.name}_strip.png"),
                seam_zoom(clip.name, clip.frames, stylized.frames, {m: (r.outputs, r.kept) for m, r in runs.items()}, args.plots / f"{clip.name}_seams.png"),
            ):
                print(f"wrote {path}")
    if args.json:
        write_json(args.json, report)
    return 0
