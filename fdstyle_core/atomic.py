"""Write-then-rename: a file is either its old self or complete, even if the run is stopped midway."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def replaced_on_success(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; it replaces ``path`` on success and is removed otherwise.

    The temporary name keeps the suffix, so writers that choose a format by it (matplotlib,
    OpenCV) still do, and starts with a dot, so a half-written file is not mistaken for a result.
    """
    tmp = path.with_name(f".{path.stem}.part{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
