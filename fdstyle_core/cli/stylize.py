"""`python -m fdstyle_core stylize`: run the pipeline over a video, frames, an image, a camera or the screen."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fdstyle_core.cli.main import stop_signals_ignored
from fdstyle_core.cli.options import add_mode_option, add_pipeline_options, pipeline_config, prepare_frame
from fdstyle_core.engine.pipeline import Pipeline
from fdstyle_core.io.video import FrameSink, open_source
from fdstyle_core.live.height_keeper import HeightKeeper


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="video file, folder of frames, image, camera index, or screen[:X,Y,W,H]")
    parser.add_argument("-o", "--output", required=True, type=Path, help="video (.mp4/.avi/…), image, or a new folder")
    add_mode_option(parser)
    add_pipeline_options(parser)
    parser.add_argument("--side-by-side", action="store_true", help="write input | output next to each other")
    parser.add_argument("--mask-output", type=Path, help="also write the mask (white = kept from the previous output)")


def run(args: argparse.Namespace) -> int:
    source = open_source(args.input)
    try:
        pipeline = Pipeline(pipeline_config(args, args.mode, live_fps=source.fps if source.live else None))
    except BaseException:
        source.close()
        raise
    total = source.frame_count
    if args.max_frames:
        total = min(total, args.max_frames) if total else args.max_frames
    heights = HeightKeeper() if source.live else None  # Automatic follows how live frames really go
    sinks: list[FrameSink] = []
    painted = 0
    started = time.perf_counter()
    try:
        sink = FrameSink(args.output, source.fps)
        sinks.append(sink)
        timeline = _Timeline(source.fps) if source.live and sink.keeps_time else None
        mask_sink = FrameSink(args.mask_output, source.fps) if args.mask_output else None
        if mask_sink is not None:
            sinks.append(mask_sink)
        with tqdm(total=total, unit="frame", desc="stylize", file=sys.stderr, disable=None) as bar:
            for index, raw in enumerate(source.frames()):
                if args.max_frames and index >= args.max_frames:
                    break
                read_at = time.perf_counter()
                frame = prepare_frame(raw, args)
                out = pipeline.process(frame)
                painted += 1
                if heights is not None:
                    heights.frame_done(pipeline, read_at)
                picture = np.concatenate([frame, out[:, :, :3]], axis=1) if args.side_by_side else out
                copies = timeline.copies(time.perf_counter()) if timeline is not None else 1
                writing = time.perf_counter()
                if copies:
                    sink.write(picture, copies)
                    if mask_sink is not None:
                        mask = pipeline.mask_image()
                        mask_sink.write(mask if mask is not None else np.zeros(frame.shape[:2], np.uint8), copies)
                if timeline is not None:
                    timeline.writing_s += time.perf_counter() - writing
                bar.update(1)
        for s in sinks:
            s.commit()
    except BaseException:
        with stop_signals_ignored():
            for s in sinks:
                s.discard()
        raise
    finally:
        source.close()
    elapsed = time.perf_counter() - started
    height, width = picture.shape[:2]
    held = f"{painted} painted, " if painted != sink.count else ""
    print(
        f"wrote {args.output}: {sink.count} frames {width}x{height} in {elapsed:.1f} s "
        f"({held}{painted / elapsed:.2f} fps, {args.mode}, {pipeline.description})"
    )
    return 0


@dataclass
class _Timeline:
    """How often to write each painting of a live source into a video so that the video lasts as
    long as the recording did: as often as the source's frames that went by since the last one
    (none while painting runs ahead of the source).  The clock starts at the first painting (the
    start-up before it is not recorded), and the time spent writing does not count: it would ask
    for more copies, whose writing would ask for more still."""

    fps: float
    started: float | None = None
    writing_s: float = 0.0
    written: int = 0

    def copies(self, now: float) -> int:
        if self.started is None:
            self.started, count = now, 1
        else:
            count = max(0, 1 + round((now - self.started - self.writing_s) * self.fps) - self.written)
        self.written += count
        return count
