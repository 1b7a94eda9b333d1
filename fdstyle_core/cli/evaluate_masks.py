"""`python -m fdstyle_core eval-mask`: our masks against CDnet ground truth, next to MOG2 and KNN.

Each mode's stabilizer runs over the consecutive frames as it would live (from a few frames
before the first scored one), so stateful masks (`reference`, ``--threshold auto``) are scored
as they behave.  With ``--sweep`` it scores every combination of threshold and morphology for
the ``--sweep-modes`` (`paper` on the fast OpenCV pair path of
:func:`fdstyle_core.evaluation.mask_scoring.paper_foreground`, others sequentially) and prints the best by
F-measure per clip and jointly (mean F over the clips), which is how the defaults are chosen:
a setting good on every clip, not the best of one.  ``--add-noise`` adds seeded Gaussian sensor
noise to every frame, to see how the automatic threshold copes with a noisier camera.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from tqdm import tqdm

from fdstyle_core.evaluation.cdnet import CdnetClip
from fdstyle_core.evaluation.mask_scoring import SUBTRACTORS, grey_differences, paper_foreground, sequential_foreground, subtractor_foreground
from fdstyle_core.errors import FdstyleError
from fdstyle_core.evaluation.metrics import Counts
from fdstyle_core.cli.options import mask_params, non_negative_int, output_file, parse_threshold, positive_int, write_json
from fdstyle_core.stabilizers import MODES, REGISTRY
from fdstyle_core.stabilizers.base import MaskParams

_DEFAULTS = MaskParams()
DEFAULT_MODES = ("paper", "reference", "flow")
# Frames the stabilizer runs before a scored frame, so that its state (reference, noise
# estimate) has settled as it would have live; scored frames further apart than this start a
# fresh run, so a stride does not mean running every frame in between.
WARMUP_FRAMES = 10
NOISE_SEED = 6


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
        default=",".join(DEFAULT_MODES),
        help="modes whose mask to score (foreground = where the mode repaints; a mode without a mask repaints everything)",
    )
    parser.add_argument("--no-subtractors", action="store_true", help="skip the MOG2 and KNN comparison")
    parser.add_argument("--stride", type=positive_int, default=1, help="score every N-th frame of the temporal ROI")
    parser.add_argument("--max-frames", type=non_negative_int, default=0, help="score at most N frames per clip (0 = all)")
    parser.add_argument(
        "--threshold", type=parse_threshold, default=_DEFAULTS.threshold, help="T, grey levels 0–255, or 'auto'"
    )
    parser.add_argument("--add-noise", type=float, default=0.0, metavar="SIGMA", help="Gaussian sensor noise (grey levels, seeded)")
    parser.add_argument("--dilate-iters", type=int, default=_DEFAULTS.dilate_iters)
    parser.add_argument("--dilate-kernel", type=int, default=_DEFAULTS.dilate_kernel)
    parser.add_argument("--erode-iters", type=int, default=_DEFAULTS.erode_iters)
    parser.add_argument("--erode-kernel", type=int, default=_DEFAULTS.erode_kernel)
    parser.add_argument("--sweep", action="store_true", help="search threshold and morphology for --sweep-modes")
    parser.add_argument("--sweep-modes", default="paper", help="modes to sweep (reference ignores the dilation knobs)")
    parser.add_argument("--sweep-thresholds", type=_numbers(float), default=[4, 6, 8, 10, 12, 15, 20, 25, 30])
    parser.add_argument("--sweep-dilate-iters", type=_numbers(int), default=[0, 1, 2, 3, 4])
    parser.add_argument("--sweep-dilate-kernels", type=_numbers(int), default=[3])
    parser.add_argument("--sweep-erode-iters", type=_numbers(int), default=[0, 1, 2, 3, 5, 7])
    parser.add_argument("--sweep-erode-kernels", type=_numbers(int), default=[3, 5])
    parser.add_argument("--top", type=positive_int, default=5, help="rows of the sweep tables")
    parser.add_argument("--json", type=output_file, help="write every score here")


@dataclass
class Scored:
    """One clip's scored frames and their ground truth; frames are read (and noised) on demand."""

    clip: CdnetClip
    indices: list[int]
    noise: float = 0.0
    truth: np.ndarray | None = None
    differences: np.ndarray | None = None  # |ΔF| per scored frame, for the paper sweep's pair path

    @classmethod
    def load(cls, clip: CdnetClip, indices: list[int], noise: float) -> "Scored":
        scored = cls(clip, indices, noise)
        scored.truth = np.stack([clip.truth(i) for i in indices])
        return scored

    @property
    def name(self) -> str:
        return self.clip.root.name

    def frame(self, index: int) -> np.ndarray:
        """Input frame ``index``, with the same noise every time it is read (seeded by the index)."""
        frame = self.clip.frame(index)
        if not self.noise:
            return frame
        noise = np.random.default_rng([NOISE_SEED, index]).normal(0, self.noise, frame.shape)
        return np.clip(frame + noise, 0, 255).round().astype(np.uint8)

    def segments(self) -> list[list[int]]:
        """Runs of scored frames close enough to share one stabilizer run (see WARMUP_FRAMES)."""
        runs = [[self.indices[0]]]
        for index in self.indices[1:]:
            if index - runs[-1][-1] <= WARMUP_FRAMES:
                runs[-1].append(index)
            else:
                runs.append([index])
        return runs

    def _frames(self, first: int, last: int) -> Iterator[tuple[int, np.ndarray]]:
        for index in range(max(1, first - WARMUP_FRAMES), last + 1):
            yield index, self.frame(index)

    def score_mode(self, mode: str, params: MaskParams) -> tuple[Counts, float]:
        """Counts over the scored frames and the mean threshold the mode used on them."""
        assert self.truth is not None
        rows = {index: row for row, index in enumerate(self.indices)}
        counts, thresholds = Counts(), []
        for run in self.segments():
            for index, foreground, threshold in sequential_foreground(mode, params, self._frames(run[0], run[-1]), rows):
                counts.add(foreground, self.truth[rows[index]], self.clip.roi)
                thresholds.append(threshold)
        return counts, float(np.mean(thresholds))

    def pair_differences(self) -> np.ndarray:
        if self.differences is None:
            previous = [self.frame(i - 1) for i in self.indices]
            current = [self.frame(i) for i in self.indices]
            self.differences = grey_differences(previous, current)
        return self.differences

    def score_subtractor(self, kind: str) -> Counts:
        """The subtractor sees every frame from the clip's start; only the scored ones count."""
        assert self.truth is not None
        wanted = {index: row for row, index in enumerate(self.indices)}
        frames = (self.frame(i) for i in range(1, self.indices[-1] + 1))
        counts = Counts()
        bar = tqdm(total=self.indices[-1], desc=kind, unit="frame", file=sys.stderr, disable=None)
        for index, foreground in enumerate(subtractor_foreground(kind, frames), start=1):
            if index in wanted:
                counts.add(foreground, self.truth[wanted[index]], self.clip.roi)
            bar.update(1)
        bar.close()
        return counts


def _describe(mode: str, params: MaskParams, threshold: float | None = None) -> str:
    """The setting in words; modes without closing have no dilation, and an automatic T shows its mean value."""
    t = f"T=auto({threshold:.1f})" if params.auto_threshold and threshold is not None else f"T={params.threshold:g}"
    dilation = "" if not REGISTRY[mode].uses("dilate_iters") else f" dilate {params.dilate_iters}×{params.dilate_kernel}"
    return f"{t}{dilation} erode {params.erode_iters}×{params.erode_kernel}"


def _row(clip: str, method: str, setting: str, counts: dict[str, float]) -> dict:
    return {"clip": clip, "method": method, "setting": setting, **counts}


def _print_table(rows: list[dict], title: str) -> None:
    print(f"\n{title}")
    print(f"{'clip':<20} {'method':<10} {'setting':<32} {'recall':>7} {'prec.':>7} {'F':>7} {'PWC':>7}")
    for r in rows:
        print(
            f"{r['clip']:<20} {r['method']:<10} {r['setting']:<32} "
            f"{r['recall']:7.3f} {r['precision']:7.3f} {r['f']:7.3f} {r['pwc']:7.3f}"
        )


def _sweep_grid(mode: str, args: argparse.Namespace) -> list[MaskParams]:
    """Every combination of the sweep's values (the dilation knobs collapse for modes without closing)."""
    closes = REGISTRY[mode].uses("dilate_iters")
    dilate_iters = args.sweep_dilate_iters if closes else [_DEFAULTS.dilate_iters]
    dilate_kernels = args.sweep_dilate_kernels if closes else [_DEFAULTS.dilate_kernel]
    combos = itertools.product(args.sweep_thresholds, dilate_iters, dilate_kernels, args.sweep_erode_iters, args.sweep_erode_kernels)
    grid = {MaskParams(t, di, dk if di else 1, ei, ek if ei else 1) for t, di, dk, ei, ek in combos}
    return sorted(grid, key=lambda p: (p.threshold, p.dilate_iters, p.dilate_kernel, p.erode_iters, p.erode_kernel))


def _sweep_counts(mode: str, scored: Scored, params: MaskParams) -> Counts:
    """A mode whose mask sees two frames on the fast pair path (exact with a fixed T), others sequentially."""
    if not REGISTRY[mode].pair_mask:
        return scored.score_mode(mode, params)[0]
    counts = Counts()
    assert scored.truth is not None
    counts.add(paper_foreground(scored.pair_differences(), params), scored.truth, scored.clip.roi)
    return counts


def _sweep(mode: str, clips: list[Scored], args: argparse.Namespace) -> dict:
    grid = _sweep_grid(mode, args)
    per_clip: dict[str, list[dict]] = {c.name: [] for c in clips}
    for params in tqdm(grid, desc=f"sweep {mode}", unit="setting", file=sys.stderr, disable=None):
        for scored in clips:
            counts = _sweep_counts(mode, scored, params)
            per_clip[scored.name].append({**_row(scored.name, mode, _describe(mode, params), counts.summary()), "params": asdict(params)})
    for name, rows in per_clip.items():
        _print_table(sorted(rows, key=lambda r: -r["f"])[: args.top], f"sweep {mode}: best on {name} by F-measure")
    joint = [
        {
            **_row("mean of clips", mode, rows[0]["setting"], {k: float(np.mean([r[k] for r in rows])) for k in ("recall", "precision", "f", "pwc")}),
            "params": rows[0]["params"],
        }
        for rows in zip(*per_clip.values())
    ]
    joint.sort(key=lambda r: -r["f"])
    _print_table(joint[: args.top], f"sweep {mode}: best jointly (mean F over the clips)")
    print(f"\nbest jointly for {mode}: {joint[0]['setting']} (mean F {joint[0]['f']:.3f})")
    return {"per_clip": per_clip, "joint": joint}


def _modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise FdstyleError(f"unknown mode(s) {', '.join(unknown)} (choose from {', '.join(MODES)})")
    return modes


def run(args: argparse.Namespace) -> int:
    params = mask_params(args)
    modes, sweep_modes = _modes(args.modes), _modes(args.sweep_modes)
    if args.add_noise < 0:
        raise FdstyleError(f"--add-noise must be ≥ 0, got {args.add_noise}")
    clips = [Scored.load(clip, clip.scored(args.stride, args.max_frames), args.add_noise) for clip in map(CdnetClip.open, args.clips)]
    rows = []
    for scored in clips:
        for mode in modes:
            counts, threshold = scored.score_mode(mode, params)
            rows.append({**_row(scored.name, mode, _describe(mode, params, threshold), counts.summary()), "threshold": threshold})
        if not args.no_subtractors:
            for kind in SUBTRACTORS:
                rows.append(_row(scored.name, kind, "OpenCV defaults", scored.score_subtractor(kind).summary()))
    scored_frames = ", ".join(f"{c.name} {len(c.indices)}" for c in clips)
    noise = f"; noise σ={args.add_noise:g}" if args.add_noise else ""
    _print_table(rows, f"mask accuracy (CDnet rules; frames scored: {scored_frames}; stride {args.stride}{noise})")
    report: dict = {"frames": {c.name: c.indices for c in clips}, "noise_sigma": args.add_noise, "results": rows}
    if args.sweep:
        report["sweep"] = {mode: _sweep(mode, clips, args) for mode in sweep_modes}
    if args.json:
        write_json(args.json, report)
    return 0
