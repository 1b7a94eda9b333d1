"""`python -m fdstyle_core COMMAND …`: every command, and the one place errors become exit codes."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator, NoReturn

from fdstyle_core.errors import FdstyleError

# command name -> (module holding add_arguments/run, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "stylize": ("fdstyle_core.cli.stylize", "stylize a video, frames, an image, a camera or the screen"),
    "styles": ("fdstyle_core.cli.styles", "list the styles that can be used by name"),
    "train": ("fdstyle_core.cli.train", "train a style from a painting, or distill a slim one from a style"),
    "eval": ("fdstyle_core.cli.evaluate", "compare methods on flicker, warp error, ghosting and fidelity"),
    "eval-mask": ("fdstyle_core.cli.evaluate_masks", "score masks against CDnet ground truth (with --sweep to tune)"),
    "bench": ("fdstyle_core.cli.bench", "per-stage timings and fps per mode, size, device and precision"),
    "doctor": ("fdstyle_core.cli.doctor", "list devices and engines, check each precision and time a full and a region pass"),
}


class OneLineErrorParser(argparse.ArgumentParser):
    """Bad options end like every other error: one ``error:`` line, exit 2 (not the whole usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="python -m fdstyle_core", description="Flicker-free live video stylization.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (a service manager, `kill`): unwinds like Ctrl-C, so partial output is removed."""


def _terminate(signum: int, frame: object) -> NoReturn:
    raise Terminated()


@contextmanager
def stop_signals_ignored() -> Iterator[None]:
    """Clean-up after a stop must finish: a second Ctrl-C or SIGTERM meanwhile is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, object] = {}
    try:
        for number in (signal.SIGINT, signal.SIGTERM):
            previous[number] = signal.signal(number, signal.SIG_IGN)
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()  # only there can signals be caught
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return int(args.run(args) or 0)
    except FdstyleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a disk full, a folder that cannot be written, …
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except Terminated:
        print("terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("error: out of memory (try --resize or --processing-height)", file=sys.stderr)
        return 2
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
