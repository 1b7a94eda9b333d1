"""How far apart two styles paint the same frames: PSNR of the second against the first.

    python tools/style_distance.py TEACHER.pth STUDENT.pth [--data ../shared/data] [--sheet side_by_side.png]

Used to check a distilled style (tools/shrink_styles.sh) against the network it learned from.
Frames: the 31st of a talking head, a webcam close-up and a street scene, at 640×360.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fdstyle_core.engine.styles import load_network  # noqa: E402
from fdstyle_core.errors import FdstyleError  # noqa: E402
from fdstyle_core.io.video import frame_at  # noqa: E402

CLIPS = ("talking/retalking_1.mp4", "talking/liveportrait_d9.mp4", "pets2009_vtest.mp4")
FRAME_INDEX = 30
SIZE = (640, 360)


def frames(data: Path) -> list[np.ndarray]:
    """RGB frames, one from each clip."""
    return [cv2.resize(frame_at(data / "videos" / clip, FRAME_INDEX), SIZE, interpolation=cv2.INTER_AREA) for clip in CLIPS]


def paint(net: torch.nn.Module, frame: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        y = net(torch.from_numpy(frame).permute(2, 0, 1)[None].float()).clamp(0, 255).round()
    return y[0].permute(1, 2, 0).numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / max(float(np.mean((a - b) ** 2)), 1e-12)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sheet", type=Path, help="also write the paintings side by side here")
    args = parser.parse_args()
    try:
        first, second = load_network(args.first), load_network(args.second)
        pairs = [(paint(first, frame), paint(second, frame)) for frame in frames(args.data)]
    except FdstyleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    values = [psnr(a, b) for a, b in pairs]
    print(f"{args.second.name} against {args.first.name}: " + ", ".join(f"{v:.1f}" for v in values) + f" dB; mean {np.mean(values):.1f} dB")
    if args.sheet:
        sheet = np.concatenate([np.concatenate(pair, axis=1) for pair in pairs], axis=0).astype(np.uint8)
        cv2.imwrite(str(args.sheet), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return 0


if __name__ == "__main__":
    sys.exit(main())
