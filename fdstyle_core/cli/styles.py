"""`python -m fdstyle_core styles`: what --style NAME accepts."""

from __future__ import annotations

import argparse
from pathlib import Path

from fdstyle_core.engine.styles import PROJECT_MODELS_DIR, find_styles, user_styles_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="*", type=Path, help="extra folders of .pth files to list")


def run(args: argparse.Namespace) -> int:
    styles = find_styles(args.dirs)
    if not styles:
        print(f"no styles found in {PROJECT_MODELS_DIR} or {user_styles_dir()}")
        return 0
    width = max(len(s.name) for s in styles)
    for style in styles:
        marker = " (default)" if style.is_default else ""
        print(f"{style.name:<{width}}  {style.display_name}{marker}  {style.path}")
    return 0
