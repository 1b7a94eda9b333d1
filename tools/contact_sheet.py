"""Render every style on the same three frames, one row per style, to judge them side by side.

    python tools/contact_sheet.py -o docs/contact_sheet.jpg [--data ../shared/data] [--models models]

Frames: a talking-head frame, a CDnet office frame and pytorch/examples' ``amber.jpg``.  Rows: the
first row is the frames themselves, then the styles in ``--models`` (ours, default first), then
the pytorch/examples styles from the shared data for comparison.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fdstyle_core.engine.devices import resolve_device  # noqa: E402
from fdstyle_core.errors import FdstyleError  # noqa: E402
from fdstyle_core.engine.network import SIZE_MULTIPLE  # noqa: E402
from fdstyle_core.engine.styles import VARIANT_LABELS, load_network  # noqa: E402
from fdstyle_core.engine.manifest import find_entry  # noqa: E402
from fdstyle_core.io.video import frame_at  # noqa: E402

LABEL_WIDTH = 220
TALKING_FRAME = 60
OFFICE_FRAME = "in001100.jpg"  # a person at the bookshelf, inside CDnet's temporal ROI


def fit_height(image: np.ndarray, height: int) -> np.ndarray:
    """Scale to ``height`` and trim the width to the network's size multiple."""
    width = round(image.shape[1] * height / image.shape[0])
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return resized[:, : width - width % SIZE_MULTIPLE]


def sheet_frames(data: Path, height: int) -> list[np.ndarray]:
    frames = [
        frame_at(data / "videos" / "talking" / "retalking_1.mp4", TALKING_FRAME),
        frame_at(data / "videos" / "cdnet_office" / "input" / OFFICE_FRAME, 0),
        frame_at(data / "models" / "reference" / "amber.jpg", 0),
    ]
    return [fit_height(f[:, :, :3], height) for f in frames]


def style_rows(models: Path, references: Path) -> list[tuple[str, Path]]:
    """(label, path) for our styles (manifest order: default first) and then the references."""
    ours = sorted(models.glob("*.pth"))
    rows = []
    for path in ours:
        entry = find_entry(models, path.stem) or {}
        label = entry.get("display_name", path.stem) + VARIANT_LABELS.get(entry.get("variant", ""), "")
        rows.append((0 if entry.get("default") else 1, f"{label}{' *' if entry.get('default') else ''}", path))
    ordered = [(label, path) for _, label, path in sorted(rows, key=lambda r: (r[0], r[1]))]
    return ordered + [(f"{p.stem} (pytorch/examples)", p) for p in sorted(references.glob("*.pth"))]


def stylize(path: Path, frames: list[np.ndarray], device: torch.device) -> list[np.ndarray]:
    net = load_network(path).to(device)
    out = []
    with torch.no_grad():
        for frame in frames:
            x = torch.from_numpy(frame).permute(2, 0, 1)[None].to(device).float()
            out.append(net(x).clamp(0, 255)[0].permute(1, 2, 0).round().byte().cpu().numpy())
    return out


def labelled_row(label: str, images: list[np.ndarray]) -> np.ndarray:
    height = images[0].shape[0]
    strip = np.full((height, LABEL_WIDTH, 3), 255, np.uint8)
    for i, line in enumerate(label.split(" (")):
        text = line if i == 0 else f"({line}"
        cv2.putText(strip, text, (8, 28 + 24 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    gap = np.full((height, 4, 3), 255, np.uint8)
    parts = [strip]
    for image in images:
        parts += [image, gap]
    return np.concatenate(parts, axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, required=True, help="PNG to write")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--models", type=Path, default=Path(__file__).resolve().parents[1] / "models")
    parser.add_argument("--height", type=int, default=240, help="row height in px")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    try:
        device = resolve_device(args.device)
        frames = sheet_frames(args.data, args.height)
        rows = [labelled_row("photo", frames)]
        for label, path in style_rows(args.models, args.data / "models" / "pytorch_examples"):
            rows.append(labelled_row(label, stylize(path, frames, device)))
            print(f"rendered {label}", file=sys.stderr)
        sheet = np.concatenate([np.vstack([r, np.full((4, r.shape[1], 3), 255, np.uint8)]) for r in rows])
        args.output.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(args.output), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
            raise FdstyleError(f"cannot write {args.output}")
    except FdstyleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}: {len(rows) - 1} styles × {len(frames)} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
