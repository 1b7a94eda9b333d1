"""Command-line options shared by every command that runs the pipeline."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from fdstyle_core.io.atomic import replaced_on_success
from fdstyle_core.engine.devices import PRECISION_CHOICES
from fdstyle_core.engine.selection import DEVICE_CHOICES, ENGINE_CHOICES, device_class
from fdstyle_core.errors import FdstyleError
from fdstyle_core.engine.pipeline import AUTO_HEIGHT, AUTO_HEIGHT_RULE, FULL_SIZE, PipelineConfig
from fdstyle_core.stabilizers import DEFAULT_MODE, MODES, REGISTRY
from fdstyle_core.stabilizers.base import MaskParams
from fdstyle_core.engine.styles import default_style
from fdstyle_core.io.video import parse_size, resized

_DEFAULTS = MaskParams()


def _for(option: str, text: str) -> str:
    """``text`` headed by the modes that read ``option`` (from the mode registry)."""
    modes = [mode.name for mode in REGISTRY.values() if mode.uses(option)]
    return f"{'/'.join(modes)}: {text}"


def add_pipeline_options(parser: argparse.ArgumentParser, style_required: bool = False) -> None:
    style_help = "style name (see `styles`) or path to a pytorch/examples-compatible .pth"
    parser.add_argument("--style", required=style_required, help=style_help)
    parser.add_argument(
        "--threshold", type=parse_threshold, default=_DEFAULTS.threshold,
        help=_for("threshold", f"T in grey levels 0–255 (default {_DEFAULTS.threshold:g}); 'auto' = --auto-threshold at the default T"),
    )
    parser.add_argument(
        "--auto-threshold", action="store_true",
        help=_for("auto_threshold", "raise T above --threshold when the camera is noisy (4σ of its frame-difference noise, at most 40)"),
    )
    parser.add_argument("--dilate-iters", type=int, default=_DEFAULTS.dilate_iters, help=_for("dilate_iters", "dilations of the background"))
    parser.add_argument("--dilate-kernel", type=int, default=_DEFAULTS.dilate_kernel, help=_for("dilate_kernel", "odd square side"))
    parser.add_argument("--erode-iters", type=int, default=_DEFAULTS.erode_iters, help=_for("erode_iters", "erosions of the background"))
    parser.add_argument("--erode-kernel", type=int, default=_DEFAULTS.erode_kernel, help=_for("erode_kernel", "odd square side"))
    parser.add_argument("--feather", type=int, default=_DEFAULTS.feather, help=_for("feather", "px of soft seam"))
    parser.add_argument(
        "--refresh-fraction", type=float, default=_DEFAULTS.refresh_fraction,
        help=_for("refresh_fraction", "share of changed pixels that repaints the whole frame"),
    )
    parser.add_argument(
        "--crossfade-frames", type=int, default=_DEFAULTS.crossfade_frames,
        help=_for("crossfade_frames", "frames of cross-fade on a whole-frame repaint (0 = cut)"),
    )
    parser.add_argument(
        "--no-skip-work", dest="skip_work", action="store_false",
        help=_for("skip_work", "always run the network on the whole frame"),
    )
    parser.add_argument("--strength", type=parse_percent, default=100.0, help="style strength in %% (0 = the camera, 100 = the painting)")
    parser.add_argument("--keep-colours", action="store_true", help="paint the luminance only, keep the camera's colours")
    parser.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICE_CHOICES)} (or cuda:N)")
    parser.add_argument(
        "--engine", default="auto", choices=ENGINE_CHOICES,
        help="auto = OpenVINO on the CPU (torch where it is missing), torch on CUDA and MPS",
    )
    parser.add_argument("--precision", default="auto", choices=PRECISION_CHOICES)
    parser.add_argument("--threads", type=non_negative_int, default=0, help="CPU threads for the network (0 = all cores)")
    parser.add_argument(
        "--processing-height", type=parse_processing_height,
        help=f"stylize at most this many rows high (0 = frame size; auto = {AUTO_HEIGHT_RULE}; "
        "default: auto for a camera or the screen, else the frame size)",
    )
    parser.add_argument(
        "--target-fps", type=positive_float, default=30.0,
        help="the frame rate --processing-height auto keeps (at most a camera's own)",
    )
    parser.add_argument("--resize", type=parse_size_arg, help="resize input frames to WxH first")
    parser.add_argument("--max-frames", type=non_negative_int, default=0, help="stop after N frames (0 = all)")


def add_mode_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", default=DEFAULT_MODE, choices=MODES)


def parse_size_arg(text: str) -> tuple[int, int]:
    try:
        return parse_size(text)
    except FdstyleError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ {minimum}, got '{text}'")
    return value


def non_negative_int(text: str) -> int:
    return _whole_number(text, 0)


def positive_int(text: str) -> int:
    return _whole_number(text, 1)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a number above 0, got '{text}'")
    return value


def _writable_place(path: Path) -> None:
    """Refuse ``path`` unless its nearest existing folder can be written (missing folders are made)."""
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {path}: {existing} is not a writable folder")


def output_file(text: str) -> Path:
    """A file written at the end of a long run: refused before the run if it cannot be written."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder, not a file")
    if path.exists() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {path}: the file is read-only")
    _writable_place(path.parent)
    return path


def output_folder(text: str) -> Path:
    """A folder filled at the end of a long run: refused before the run if it cannot be."""
    path = Path(text)
    _writable_place(path)
    return path


def write_json(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_on_success(path) as tmp:
        tmp.write_text(json.dumps(report, indent=1))
    print(f"wrote {path}")


def parse_processing_height(text: str) -> int:
    if text.strip().lower() == "auto":
        return AUTO_HEIGHT
    return non_negative_int(text)


def parse_threshold(text: str) -> float | str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"threshold must be a number or 'auto', got '{text}'") from None


def mask_params(args: argparse.Namespace) -> MaskParams:
    """MaskParams from the options; commands that do not offer an option get its default."""
    auto = args.threshold == "auto" or getattr(args, "auto_threshold", False)
    extra = {
        name: getattr(args, name)
        for name in ("feather", "refresh_fraction", "crossfade_frames", "skip_work")
        if hasattr(args, name)
    }
    return MaskParams(
        threshold=_DEFAULTS.threshold if args.threshold == "auto" else args.threshold,
        auto_threshold=auto,
        dilate_iters=args.dilate_iters,
        dilate_kernel=args.dilate_kernel,
        erode_iters=args.erode_iters,
        erode_kernel=args.erode_kernel,
        **extra,
    )


def style_argument(args: argparse.Namespace, machine: str = "cpu") -> str:
    """The --style given, or the shipped default style for this device class."""
    if args.style:
        return args.style
    style = default_style(machine)
    if style is None:
        raise FdstyleError("no styles installed: pass --style PATH_TO.pth")
    return str(style.path)


def pipeline_config(args: argparse.Namespace, mode: str, live_fps: float | None = None) -> PipelineConfig:
    """The pipeline the options ask for; ``live_fps`` is a live source's frame rate (a camera, the
    screen), which is painted at the height that keeps up with it unless --processing-height says otherwise."""
    height = args.processing_height
    if height is None:
        height = AUTO_HEIGHT if live_fps else FULL_SIZE
    return PipelineConfig(
        style=style_argument(args, device_class(args.device, args.engine)),
        mode=mode,
        mask=mask_params(args),
        device=args.device,
        engine=args.engine,
        precision=args.precision,
        threads=args.threads,
        target_fps=min(args.target_fps, live_fps or args.target_fps),
        processing_height=height,
        strength=args.strength / 100,
        keep_colours=args.keep_colours,
    )


def parse_percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage 0–100, got '{text}'") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"expected a percentage 0–100, got '{text}'")
    return value


def prepare_frame(frame: np.ndarray, args: argparse.Namespace) -> np.ndarray:
    """Apply --resize (area averaging when shrinking, so no aliasing shimmer)."""
    return frame if args.resize is None else resized(frame, *args.resize)
