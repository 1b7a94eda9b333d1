"""Python logging into OBS's log."""

from __future__ import annotations

import logging
from ctypes import c_char_p

from fdstyle_obs.libobs.bindings import LOG_LEVELS, lib


class BlogHandler(logging.Handler):
    """Python logging into OBS's log via ctypes ``blog``: safe from any thread (releases the GIL)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = LOG_LEVELS.get(record.levelno, 300 if record.levelno < logging.WARNING else 100)
            message = f"[fdstyle] {self.format(record)}".encode("utf-8", "replace")
            lib().blog(level, b"%s", c_char_p(message))
        except Exception:  # logging must never raise into the caller
            self.handleError(record)
