"""`python -m fdstyle_core styles`: what --style NAME accepts."""

from __future__ import annotations

import argparse
from pathlib import Path

from fdstyle_core.engine.manifest import DEVICE_CLASSES
from fdstyle_core.engine.styles import PROJECT_MODELS_DIR, Style, find_styles, user_styles_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="*", type=Path, help="extra folders of .pth files to list")


def _default_marker(style: Style) -> str:
    if set(style.default_for) >= set(DEVICE_CLASSES) or (style.is_default and not style.default_for):
        return " (default)"
    return f" (default on {', '.join(style.default_for)})" if style.default_for else ""


def run(args: argparse.Namespace) -> int:
    styles = find_styles(args.dirs)
    if not styles:
        print(f"no styles found in {PROJECT_MODELS_DIR} or {user_styles_dir()}")
        return 0
    width = max(len(s.name) for s in styles)
    for style in styles:
        marker = _default_marker(style)
        print(f"{style.name:<{width}}  {style.label}{marker}  {style.path}")
    if any(s.variant == "full" for s in styles):
        print("On a GPU, picking a style runs its full variant where there is one.")
    if any(s.variant == "lite" for s in styles):
        print("A lite variant paints the same painting about 2.5 times faster on a CPU, a little smoother; pick it by name.")
    return 0
