"""The camera shown unchanged in the output source while the engine cannot load.

Before the installer has run there is no numpy or torch, but scenes already hold the "fdstyle
output" source: rather than a black hole in the user's call, it shows the camera as it is, copied
by libobs from the mapped picture (no numpy).  Plain Python and ctypes only.
"""

from __future__ import annotations

import threading
from typing import Protocol

PASSTHROUGH_FPS = 30.0
PASSTHROUGH_THREAD = "fdstyle-passthrough"


class Forwarder(Protocol):
    def forward(self, writer: object) -> bool: ...

    def retarget(self, name: str) -> None: ...

    def close(self) -> None: ...


class Passthrough:
    """A thread that forwards ``reader``'s newest picture to ``writer`` about 30 times a second."""

    def __init__(self, reader: Forwarder, writer: object) -> None:
        self._reader, self._writer = reader, writer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=PASSTHROUGH_THREAD, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def retarget(self, camera: str) -> None:
        self._reader.retarget(camera)

    def _run(self) -> None:
        while not self._stop.wait(1 / PASSTHROUGH_FPS):
            try:
                self._reader.forward(self._writer)
            except Exception:  # noqa: BLE001 - a failing read must not end the thread; the next may work
                continue

    def stop(self, timeout: float = 1.5) -> bool:
        """Stop forwarding; False when the thread did not end in time (its reader is then left
        open rather than waited for: OBS's UI thread calls this and must not block)."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        self._reader.close()
        return True
