"""`python -m fdstyle_core doctor`: what this machine can run, how exactly, and how fast, in one table.

The first thing to run on a new machine, and what a user pastes into a bug report: for every
device and precision it runs the precision check (full and region pass against fp32) and times a
full-frame and a region pass of the style network.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from fdstyle_core.engine.devices import DTYPES, available_devices, device_label, resolve_device, synchronize
from fdstyle_core.engine.painter import Painter
from fdstyle_core.engine.precision import CHECK_BOX, check_frame, choose_precision, precision_error
from fdstyle_core.engine.styles import load_network
from fdstyle_core.cli.options import positive_int, style_argument

ENGINES = ("torch",)  # the inference engines this build has


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--style", help="style to test (default: the shipped default)")
    parser.add_argument("--repeats", type=positive_int, default=3, help="timed passes per row")


def _median_ms(work, repeats: int, device: torch.device) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats + 1):  # the first pass warms up
        started = time.perf_counter()
        work()
        synchronize(device)
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times[1:])[len(times[1:]) // 2]


def _row(style: str, device: torch.device, precision: str, repeats: int) -> str:
    net = load_network(style).to(device)
    dtype = DTYPES[precision]
    mean, worst = precision_error(net, dtype, device) if dtype != torch.float32 else (0.0, 0.0)
    painter = Painter(net if dtype == torch.float32 else load_network(style).to(device, dtype), dtype, device, 0)
    frame = check_frame(device)
    with torch.inference_mode():
        full_ms = _median_ms(lambda: painter(frame), repeats, device)
        region_ms = _median_ms(lambda: painter.regions(frame, [CHECK_BOX]), repeats, device)
    return f"| {device_label(device)} | torch | {precision} | {mean:.2f} | {worst:.1f} | {full_ms:.1f} | {region_ms:.1f} |"


def run(args: argparse.Namespace) -> int:
    style = style_argument(args)
    side = check_frame(torch.device("cpu")).shape[-1]
    print(f"fdstyle doctor: {platform.platform()}, Python {platform.python_version()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads")
    print(f"devices: {', '.join(available_devices())}; engines: {', '.join(ENGINES)}; style: {style}")
    print(f"\n| device | engine | precision | mean error | max error | full {side}² ms | region ms |")
    print("|---|---|---|---|---|---|---|")
    for name in available_devices():
        device = resolve_device(name)
        precisions = ("fp32",) if device.type == "cpu" else ("fp32", "fp16", "bf16")
        for precision in precisions:
            try:
                print(_row(style, device, precision, args.repeats), flush=True)
            except Exception as exc:  # noqa: BLE001 - a failing device is a finding, not a crash
                print(f"| {device_label(device)} | torch | {precision} | failed: {type(exc).__name__}: {str(exc)[:120]} | | | |")
        choice = choose_precision(load_network(style).to(device), device, "auto")
        print(f"\n{device_label(device)}: auto picks {choice.name} ({choice.reason})")
    return 0
