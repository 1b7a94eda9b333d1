"""Per-user data folders; free of heavy imports so the OBS script can use it before torch loads."""

from __future__ import annotations

import os
from pathlib import Path


def user_data_dir(name: str, override_env: str) -> Path:
    """``$override_env`` if set, else ``$XDG_DATA_HOME/fdstyle/<name>`` (``~/.local/share`` by default)."""
    override = os.environ.get(override_env)
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "fdstyle" / name


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/fdstyle`` (``~/.cache/fdstyle`` by default): files that may be rebuilt at any time."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fdstyle"
