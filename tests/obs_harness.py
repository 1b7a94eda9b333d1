"""Run a real OBS Studio headless (Xvfb) with a freshly seeded config, and talk to it.

Used by the end-to-end tests.  Every run gets its own HOME/XDG folders, a free websocket port and
a random password (obs-websocket listens on all interfaces; we only connect to 127.0.0.1).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import resource
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import obsws_python as obsws
from Xlib import X
from Xlib import display as xdisplay
from Xlib.protocol import event as xevent

logging.getLogger("obsws_python").setLevel(logging.CRITICAL)  # refused connections while OBS starts

OBS_FPS = 30
BASE_SIZE = (320, 240)
START_TIMEOUT_S = 90
SHUTDOWN_TIMEOUT_S = 10
WINDOW_TIMEOUT_S = 10
CLOSE_RETRY_S = 2
CLOSE_ATTEMPTS = 5
SHUTTING_DOWN = "==== Shutting down"
# (29 << 24) | (0 << 16) | 2: OBS 29.0.2 was "last run", so no first-run wizard.
LAST_VERSION = 486539266
LEAKS = re.compile(r"Number of memory leaks: (\d+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scene_collection(name: str, camera_file: Path, script: dict[str, Any] | None) -> dict[str, Any]:
    """One scene with the camera stand-in (a looping media file) and, on top, the fdstyle output."""
    items = [
        {"name": "Camera", "id": 1, "visible": True, "scale": {"x": 1, "y": 1}, "pos": {"x": 0, "y": 0}},
        {"name": "fdstyle", "id": 2, "visible": True, "scale": {"x": 1, "y": 1}, "pos": {"x": 0, "y": 0}},
    ]
    collection: dict[str, Any] = {
        "name": name,
        "current_scene": "Scene",
        "current_program_scene": "Scene",
        "scene_order": [{"name": "Scene"}],
        "sources": [
            {"id": "scene", "versioned_id": "scene", "name": "Scene", "settings": {"items": items, "id_counter": 2}},
            {
                "id": "ffmpeg_source",
                "versioned_id": "ffmpeg_source",
                "name": "Camera",
                "settings": {"is_local_file": True, "local_file": str(camera_file), "looping": True},
            },
            {"id": "fdstyle_output", "versioned_id": "fdstyle_output", "name": "fdstyle", "settings": {}},
        ],
    }
    if script is not None:
        collection["modules"] = {"scripts-tool": [script]}
    return collection


def empty_collection(name: str) -> dict[str, Any]:
    """One empty scene: OBS alone, for a baseline that no source of ours (or OBS's) can disturb."""
    scene = {"id": "scene", "versioned_id": "scene", "name": "Scene", "settings": {"items": [], "id_counter": 0}}
    return {"name": name, "current_scene": "Scene", "current_program_scene": "Scene", "scene_order": [{"name": "Scene"}], "sources": [scene]}


def thread_stacks(pid: int) -> str:
    """Every thread's native stack (gdb), so a hang says where it hangs; empty without gdb."""
    if shutil.which("gdb") is None:
        return ""
    command = ["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt 30"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    return "\n".join(line for line in done.stdout.splitlines() if line.startswith(("#", "Thread")))


def allow_core_dumps() -> None:
    """Before OBS starts (it inherits the limit): a crash leaves a core file for ``core_stacks``."""
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


def core_stacks(folder: Path) -> str:
    """Every thread's native stack from a core OBS left in ``folder`` (its working directory, where
    the default ``core_pattern`` writes it), then the core is removed; empty without one or gdb."""
    cores = [path for path in folder.glob("core*") if path.is_file()]
    if not cores or shutil.which("gdb") is None:
        return ""
    command = ["gdb", "-batch", "-ex", "thread apply all bt 30", shutil.which("obs") or "obs", str(cores[0])]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    for core in cores:
        core.unlink()
    return "\n".join(line for line in done.stdout.splitlines() if line.startswith(("#", "Thread", "Program terminated")))


def close_main_window(display: str, pid: int) -> None:
    """Ask OBS to quit the way its title bar's close button does: WM_DELETE_WINDOW to its main window.

    Not SIGINT: OBS 29.0.2's SIGINT handler closes the main window inside the signal handler, so a
    signal that lands while the main thread is in an Xlib call deadlocks (or crashes) OBS.  The
    client message goes through Qt's event loop, to the same clean shutdown."""
    connection = xdisplay.Display(display)
    try:
        protocols = connection.intern_atom("WM_PROTOCOLS")
        delete_window = connection.intern_atom("WM_DELETE_WINDOW")
        window_pid = connection.intern_atom("_NET_WM_PID")
        deadline = time.monotonic() + WINDOW_TIMEOUT_S
        while True:
            for window in connection.screen().root.query_tree().children:
                owner = window.get_full_property(window_pid, X.AnyPropertyType)
                name = window.get_wm_name() or ""
                if owner is None or int(owner.value[0]) != pid or not str(name).startswith("OBS "):
                    continue
                message = xevent.ClientMessage(window=window, client_type=protocols, data=(32, [delete_window, X.CurrentTime, 0, 0, 0]))
                window.send_event(message, event_mask=X.NoEventMask)
                connection.flush()
                return
            assert time.monotonic() < deadline, "OBS's main window never appeared"
            time.sleep(0.2)
    finally:
        connection.close()


class Obs:
    """One OBS process under its own Xvfb; use as a context manager."""

    def __init__(self, root: Path, collections: list[dict[str, Any]], env: dict[str, str] | None = None) -> None:
        self.root = root
        self.collections = collections
        self.extra_env = env or {}
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.xvfb: subprocess.Popen | None = None
        self.process: subprocess.Popen | None = None
        self.display = ""
        self.client: obsws.ReqClient | None = None
        self.exit_code: int | None = None
        self.shutdown_s: float | None = None
        self.hang_stacks = ""  # every thread's stack when OBS did not exit in time
        self.crash_stacks = ""  # every thread's stack when OBS crashed (from its core file)
        self.switched_to: list[str] = []  # collections switched to, in order (each switch reloads scripts)
        self.first_stats: dict[str, Any] = {}

    @property
    def config_dir(self) -> Path:
        return self.root / "config" / "obs-studio"

    def _seed(self) -> None:
        first = self.collections[0]["name"]
        (self.config_dir / "basic" / "profiles" / "Test").mkdir(parents=True)
        (self.config_dir / "basic" / "scenes").mkdir(parents=True)
        (self.config_dir / "global.ini").write_text(
            f"[General]\nFirstRun=true\nLastVersion={LAST_VERSION}\n"
            f"[Basic]\nProfile=Test\nProfileDir=Test\nSceneCollection={first}\nSceneCollectionFile={first}\n"
            "[BasicWindow]\nPreviewEnabled=false\n"
            f"[OBSWebSocket]\nFirstLoad=false\nServerEnabled=true\nServerPort={self.port}\n"
            "AlertsEnabled=false\nAuthRequired=true\n"
        )
        width, height = BASE_SIZE
        (self.config_dir / "basic" / "profiles" / "Test" / "basic.ini").write_text(
            f"[General]\nName=Test\n[Video]\nBaseCX={width}\nBaseCY={height}\nOutputCX={width}\nOutputCY={height}\n"
            f"FPSType=0\nFPSCommon={OBS_FPS}\n"
        )
        for collection in self.collections:
            path = self.config_dir / "basic" / "scenes" / f"{collection['name']}.json"
            path.write_text(json.dumps(collection))

    def _start_xvfb(self) -> str:
        read_fd, write_fd = os.pipe()
        self.xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            display = pipe.readline().strip()
        assert display, "Xvfb did not report a display"
        return f":{display}"

    def __enter__(self) -> "Obs":
        self._seed()
        self.display = display = self._start_xvfb()
        env = {
            **os.environ,
            "HOME": str(self.root),
            "XDG_CONFIG_HOME": str(self.root / "config"),
            "XDG_CACHE_HOME": str(self.root / "cache"),
            "XDG_RUNTIME_DIR": str(self.root / "runtime"),
            "DISPLAY": display,
            **self.extra_env,
        }
        (self.root / "runtime").mkdir(mode=0o700, exist_ok=True)
        self.stdout = open(self.root / "obs-stdout.txt", "wb")
        allow_core_dumps()
        self.process = subprocess.Popen(
            ["obs", "--multi", "--disable-updater", "--disable-missing-files-check",
             "--websocket_port", str(self.port), "--websocket_password", self.password],
            env=env,
            cwd=self.root,
            stdout=self.stdout,
            stderr=subprocess.STDOUT,
        )
        self.client = self._connect()
        return self

    def _connect(self) -> obsws.ReqClient:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"OBS exited with {self.process.returncode} at start:\n{self.output_tail()}")
            try:
                return obsws.ReqClient(host="127.0.0.1", port=self.port, password=self.password, timeout=30)
            except Exception:
                if time.monotonic() > deadline:
                    raise AssertionError(f"obs-websocket did not answer:\n{self.output_tail()}") from None
                time.sleep(0.5)

    def output_tail(self, chars: int = 4000) -> str:
        tail = ((self.root / "obs-stdout.txt").read_text(errors="replace") + self.log_text())[-chars:]
        tail += f"\nOBS did not exit; its threads:\n{self.hang_stacks}" if self.hang_stacks else ""
        return tail + (f"\nOBS crashed; its threads:\n{self.crash_stacks}" if self.crash_stacks else "")

    def log_text(self) -> str:
        logs = sorted((self.config_dir / "logs").glob("*.txt"))
        return logs[-1].read_text(errors="replace") if logs else ""

    def leaks(self) -> int:
        found = LEAKS.findall(self.log_text())
        assert found, f"no leak report in OBS's log:\n{self.output_tail()}"
        return int(found[-1])

    # -- requests ------------------------------------------------------------------------

    def screenshot(self, source: str, width: int | None = None) -> np.ndarray:
        """The source's current picture as RGB; at its own size unless ``width`` is given."""
        assert self.client is not None
        data: dict[str, Any] = {"sourceName": source, "imageFormat": "png"}
        if width:
            data["imageWidth"] = width
        response = self.client.send("GetSourceScreenshot", data, raw=True)
        encoded = response["imageData"].split(",", 1)[1]
        image = cv2.imdecode(np.frombuffer(base64.b64decode(encoded), np.uint8), cv2.IMREAD_COLOR)
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def vendor(self, request_type: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        assert self.client is not None
        request: dict[str, Any] = {"vendorName": "fdstyle", "requestType": request_type}
        if data:  # obs-websocket 5.1 rejects an empty requestData
            request["requestData"] = data
        response = self.client.send("CallVendorRequest", request, raw=True)
        return response["responseData"]

    def current_collection(self) -> str:
        assert self.client is not None
        return self.client.send("GetSceneCollectionList", raw=True)["currentSceneCollectionName"]

    def switch_collection(self, name: str) -> None:
        """Switch to another collection; OBS ignores a switch to the current one, so that is an error."""
        assert self.client is not None
        assert self.current_collection() != name, f"already in scene collection {name}: nothing would reload"
        self.client.set_current_scene_collection(name)
        self.switched_to.append(name)
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.current_collection() != name:
            assert time.monotonic() < deadline, f"OBS did not switch to scene collection {name}"
            time.sleep(0.2)
        time.sleep(0.5)  # let the collection finish loading before the next switch

    def stats(self) -> dict[str, Any]:
        assert self.client is not None
        return self.client.send("GetStats", raw=True)

    def rss_kib(self) -> int:
        """OBS's resident memory, in KiB."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))

    def thread_count(self) -> int:
        assert self.process is not None
        return len(os.listdir(f"/proc/{self.process.pid}/task"))

    # -- shutdown ------------------------------------------------------------------------

    def stop(self) -> None:
        """Close OBS's main window (a clean shutdown), then stop Xvfb once OBS is gone."""
        if self.client is not None:
            try:
                self.client.disconnect()
            except Exception:
                pass
            self.client = None
        try:
            self._close_obs()
        finally:
            if self.xvfb is not None and self.xvfb.poll() is None:
                self.xvfb.terminate()
                self.xvfb.wait(10)
            self.stdout.close()

    def _close_obs(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                self.exit_code = self._close_and_wait()
            except subprocess.TimeoutExpired:
                self.hang_stacks = thread_stacks(self.process.pid)
            finally:
                if self.process.poll() is None:
                    self.process.kill()
                    self.process.wait()
        elif self.process is not None and self.exit_code is None:
            self.exit_code = self.process.returncode  # it ended before it was asked to
        if self.exit_code is not None and self.exit_code < 0 and not self.crash_stacks:
            self.crash_stacks = core_stacks(self.root)

    def _close_and_wait(self) -> int:
        """Close the main window until OBS's log says it is shutting down, then wait for its exit.

        OBS 29.0.2 now and then ignores a close (as it would a user's click), so one that has not
        started the shutdown within CLOSE_RETRY_S is sent again; ``shutdown_s`` counts from the
        close that OBS took."""
        assert self.process is not None
        for _ in range(CLOSE_ATTEMPTS):
            sent = time.monotonic()
            close_main_window(self.display, self.process.pid)
            while time.monotonic() - sent < CLOSE_RETRY_S and SHUTTING_DOWN not in self.log_text():
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
            if self.process.poll() is not None or SHUTTING_DOWN in self.log_text():
                exit_code = self.process.wait(SHUTDOWN_TIMEOUT_S)
                self.shutdown_s = time.monotonic() - sent
                return exit_code
        raise subprocess.TimeoutExpired("obs", CLOSE_ATTEMPTS * CLOSE_RETRY_S)

    def __exit__(self, *exc: object) -> None:
        self.stop()
