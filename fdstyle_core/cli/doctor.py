"""`python -m fdstyle_core doctor`: what this machine can run, how exactly, and how fast, in one table.

The first thing to run on a new machine, and what a user pastes into a bug report: for every
device, engine and precision it runs the precision check (full and region pass against torch
fp32) and times a full-frame and a region pass of the style network.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from fdstyle_core.cli.options import positive_int, style_argument
from fdstyle_core.engine.devices import synchronize
from fdstyle_core.engine.inference import openvino_engine
from fdstyle_core.engine.inference.torch_engine import TorchEngine
from fdstyle_core.engine.painter import Painter
from fdstyle_core.engine.precision import CHECK_BOX, check_frame, painting_error
from fdstyle_core.engine.selection import available_devices, available_engines, choose_engine
from fdstyle_core.engine.styles import load_network


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


def _combinations(device: str) -> list[tuple[str, str]]:
    """(engine, precision) pairs worth a row on ``device``: bf16 on a CPU only where it computes
    it natively (elsewhere it is emulated, many times slower, and never chosen)."""
    if device in ("cuda", "mps"):
        return [("torch", p) for p in ("fp32", "fp16", "bf16")]
    if device != "cpu":
        return [("openvino", p) for p in ("fp32", "fp16")]
    precisions = ("fp32", "bf16") if openvino_engine.native_bf16() else ("fp32",)
    return [(e, p) for e in available_engines() for p in precisions]


def _row(net: torch.nn.Module, device: str, engine: str, precision: str, repeats: int) -> str:
    choice = choose_engine(net, device, engine, precision)
    chosen = choice.engine
    if choice.notice:
        return f"| {device} | {engine} | {precision} | failed: {choice.notice} | | | |"
    reference = TorchEngine(net, chosen.device)
    mean, worst = painting_error(chosen, reference) if (engine, precision) != ("torch", "fp32") else (0.0, 0.0)
    painter = Painter(chosen, 0)
    frame = check_frame(chosen.device)
    with torch.inference_mode():
        full_ms = _median_ms(lambda: painter(frame), repeats, chosen.device)
        region_ms = _median_ms(lambda: painter.regions(frame, [CHECK_BOX]), repeats, chosen.device)
    return f"| {device} | {engine} | {precision} | {mean:.2f} | {worst:.1f} | {full_ms:.1f} | {region_ms:.1f} |"


def run(args: argparse.Namespace) -> int:
    style = style_argument(args)
    net = load_network(style)
    side = check_frame(torch.device("cpu")).shape[-1]
    print(f"fdstyle doctor: {platform.platform()}, Python {platform.python_version()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads")
    print(f"devices: {', '.join(available_devices())}; engines: {', '.join(available_engines())}; style: {style}")
    if not openvino_engine.native_bf16():
        print("bf16: not native on this CPU (no AVX-512 BF16 or AMX), so no bf16 rows for it")
    print(f"\n| device | engine | precision | mean error | max error | full {side}² ms | region ms |")
    print("|---|---|---|---|---|---|---|")
    for device in available_devices():
        for engine, precision in _combinations(device):
            try:
                print(_row(net, device, engine, precision, args.repeats), flush=True)
            except Exception as exc:  # noqa: BLE001 - a failing device is a finding, not a crash
                print(f"| {device} | {engine} | {precision} | failed: {type(exc).__name__}: {str(exc)[:120]} | | | |")
    print()
    for device in available_devices():
        choice = choose_engine(net, device)
        print(f"{device}: auto picks {choice.engine.label} ({choice.reason}){'; ' + choice.notice if choice.notice else ''}")
    return 0
