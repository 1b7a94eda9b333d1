"""`python -m fdstyle_core eval-mask`: our masks against CDnet ground truth, next to MOG2 and KNN.

With ``--sweep`` it scores every combination of threshold and morphology for the `paper` mask (on
the fast OpenCV path of :func:`fdstyle_core.masks.paper_foreground`) and
prints the best by F-measure per clip and jointly (mean F over the clips), which is how the
defaults are chosen: a setting good on every clip, not the best of one.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from .cdnet import CdnetClip
from .masks import SUBTRACTORS, grey_differences, mode_foreground, paper_foreground, subtractor_foreground
from .errors import FdstyleError
from .metrics import Counts
from .options import mask_params
from .pipeline import MODES
from .stabilizer import MaskParams

_DEFAULTS = MaskParams()
# Modes whose mask depends on the previous and current frame only, so frame pairs score them exactly.
PAIR_MODES = ("paper", "flow")
# Pairs per stabilizer batch: bounds memory on long clips.
BATCH = 64


def _numbers(kind: Callable[[str], float]) -> Callable[[str], list]:
    """An argparse type for comma-separated numbers."""

    def parse(text: str) -> list:
        try:
            return [kind(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got '{text}'") from None

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clips", nargs="+", type=Path, help="CDnet-format clip folders")
    parser.add_argument(
        "--modes",
        default=",".join(m for m in PAIR_MODES if m in MODES),
        help="modes whose mask to score; each is scored on independent frame pairs, which is exact only "
        "for masks that look at two frames (modes without a mask are skipped)",
    )
    parser.add_argument("--no-subtractors", action="store_true", help="skip the MOG2 and KNN comparison")
    parser.add_argument("--stride", type=int, default=1, help="score every N-th frame of the temporal ROI")
    parser.add_argument("--max-frames", type=int, default=0, help="score at most N frames per clip (0 = all)")
    parser.add_argument("--threshold", type=float, default=_DEFAULTS.threshold, help="T, grey levels 0–255")
    parser.add_argument("--dilate-iters", type=int, default=_DEFAULTS.dilate_iters)
    parser.add_argument("--dilate-kernel", type=int, default=_DEFAULTS.dilate_kernel)
    parser.add_argument("--erode-iters", type=int, default=_DEFAULTS.erode_iters)
    parser.add_argument("--erode-kernel", type=int, default=_DEFAULTS.erode_kernel)
    parser.add_argument("--sweep", action="store_true", help="search threshold and morphology for the paper mask")
    parser.add_argument("--sweep-thresholds", type=_numbers(float), default=[4, 6, 8, 10, 12, 15, 20, 25, 30])
    parser.add_argument("--sweep-dilate-iters", type=_numbers(int), default=[0, 1, 2, 3, 4])
    parser.add_argument("--sweep-dilate-kernels", type=_numbers(int), default=[3])
    parser.add_argument("--sweep-erode-iters", type=_numbers(int), default=[0, 1, 2, 3, 5, 7])
    parser.add_argument("--sweep-erode-kernels", type=_numbers(int), default=[3, 5])
    parser.add_argument("--top", type=int, default=5, help="rows of the sweep tables")
    parser.add_argument("--json", type=Path, help="write every score here")


@dataclass
class Scored:
    """One clip's scored frames, each with the frame before it, and their ground truth."""

    clip: CdnetClip
    indices: list[int]
    previous: list[np.ndarray] = field(default_factory=list)
    current: list[np.ndarray] = field(default_factory=list)
    truth: np.ndarray | None = None
    differences: np.ndarray | None = None  # |ΔF| per pair, filled for the sweep

    @classmethod
    def load(cls, clip: CdnetClip, indices: list[int]) -> "Scored":
        scored = cls(clip, indices)
        for index in tqdm(indices, desc=f"read {clip.root.name}", unit="frame", file=sys.stderr, disable=None):
            scored.previous.append(clip.frame(index - 1))
            scored.current.append(clip.frame(index))
        scored.truth = np.stack([clip.truth(i) for i in indices])
        return scored

    def score_mode(self, mode: str, params: MaskParams) -> Counts | None:
        counts = Counts()
        for start in range(0, len(self.indices), BATCH):
            end = start + BATCH
            foreground = mode_foreground(mode, params, self.previous[start:end], self.current[start:end])
            if foreground is None:
                return None
            counts.add(foreground, self.truth[start:end], self.clip.roi)
        return counts

    def score_subtractor(self, kind: str) -> Counts:
        """The subtractor sees every frame from the clip's start; only the scored ones count."""
        wanted = {index: row for row, index in enumerate(self.indices)}
        frames = (self.clip.frame(i) for i in range(1, self.indices[-1] + 1))
        counts = Counts()
        bar = tqdm(total=self.indices[-1], desc=kind, unit="frame", file=sys.stderr, disable=None)
        for index, foreground in enumerate(subtractor_foreground(kind, frames), start=1):
            if index in wanted:
                counts.add(foreground, self.truth[wanted[index]], self.clip.roi)
            bar.update(1)
        bar.close()
        return counts


def _describe(params: MaskParams) -> str:
    return (
        f"T={params.threshold:g} dilate {params.dilate_iters}×{params.dilate_kernel} "
        f"erode {params.erode_iters}×{params.erode_kernel}"
    )


def _row(clip: str, method: str, setting: str, counts: dict[str, float]) -> dict:
    return {"clip": clip, "method": method, "setting": setting, **counts}


def _print_table(rows: list[dict], title: str) -> None:
    print(f"\n{title}")
    print(f"{'clip':<20} {'method':<8} {'setting':<30} {'recall':>7} {'prec.':>7} {'F':>7} {'PWC':>7}")
    for r in rows:
        print(
            f"{r['clip']:<20} {r['method']:<8} {r['setting']:<30} "
            f"{r['recall']:7.3f} {r['precision']:7.3f} {r['f']:7.3f} {r['pwc']:7.3f}"
        )


def _sweep_grid(args: argparse.Namespace) -> list[MaskParams]:
    combos = itertools.product(
        args.sweep_thresholds, args.sweep_dilate_iters, args.sweep_dilate_kernels, args.sweep_erode_iters, args.sweep_erode_kernels
    )
    grid = {MaskParams(t, di, dk if di else 1, ei, ek if ei else 1) for t, di, dk, ei, ek in combos}
    return sorted(grid, key=lambda p: (p.threshold, p.dilate_iters, p.dilate_kernel, p.erode_iters, p.erode_kernel))


def _sweep(clips: list[Scored], args: argparse.Namespace) -> dict:
    grid = _sweep_grid(args)
    per_clip: dict[str, list[dict]] = {c.clip.root.name: [] for c in clips}
    for scored in clips:
        scored.differences = grey_differences(scored.previous, scored.current)
    for params in tqdm(grid, desc="sweep", unit="setting", file=sys.stderr, disable=None):
        for scored in clips:
            counts = Counts()
            counts.add(paper_foreground(scored.differences, params), scored.truth, scored.clip.roi)
            per_clip[scored.clip.root.name].append(
                {**_row(scored.clip.root.name, "paper", _describe(params), counts.summary()), "params": asdict(params)}
            )
    for name, rows in per_clip.items():
        _print_table(sorted(rows, key=lambda r: -r["f"])[: args.top], f"sweep: best on {name} by F-measure")
    joint = [
        {
            **_row("mean of clips", "paper", rows[0]["setting"], {k: float(np.mean([r[k] for r in rows])) for k in ("recall", "precision", "f", "pwc")}),
            "params": rows[0]["params"],
        }
        for rows in zip(*per_clip.values())
    ]
    joint.sort(key=lambda r: -r["f"])
    _print_table(joint[: args.top], "sweep: best jointly (mean F over the clips)")
    print(f"\nbest jointly: {joint[0]['setting']} (mean F {joint[0]['f']:.3f})")
    return {"per_clip": per_clip, "joint": joint}


def run(args: argparse.Namespace) -> int:
    params = mask_params(args)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise FdstyleError(f"unknown mode(s) {', '.join(unknown)} (choose from {', '.join(MODES)})")
    clips = [Scored.load(clip, clip.scored(args.stride, args.max_frames)) for clip in map(CdnetClip.open, args.clips)]
    rows = []
    for scored in clips:
        name = scored.clip.root.name
        for mode in modes:
            counts = scored.score_mode(mode, params)
            if counts is not None:
                rows.append(_row(name, mode, _describe(params), counts.summary()))
        if not args.no_subtractors:
            for kind in SUBTRACTORS:
                rows.append(_row(name, kind, "OpenCV defaults", scored.score_subtractor(kind).summary()))
    counts = ", ".join(f"{c.clip.root.name} {len(c.indices)}" for c in clips)
    _print_table(rows, f"mask accuracy (CDnet rules; frames scored: {counts}; stride {args.stride})")
    report: dict = {"frames": {c.clip.root.name: c.indices for c in clips}, "results": rows}
    if args.sweep:
        report["sweep"] = _sweep(clips, args)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
        print(f"wrote {args.json}")
    return 0
