"""Write-then-rename: a file is either its old self or complete, even if the run is stopped midway."""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def replaced_on_success(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; it replaces ``path`` on success and is removed otherwise.

    The temporary name keeps the suffix, so writers that choose a format by it (matplotlib, torch)
    still do; it starts with a dot and has a random part, so it is neither mistaken for a result nor
    shared by two runs.  A symlink is written through, and an existing file keeps its permissions.
    """
    target = path.resolve() if path.is_symlink() else path
    tmp = target.with_name(f".{target.stem}.{secrets.token_hex(4)}.part{target.suffix}")
    try:
        yield tmp
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        os.replace(tmp, target)
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only folder: the error that matters is the one being raised
