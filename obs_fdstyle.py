"""fdstyle for OBS Studio: turns a camera source into a live, flicker-free painting.

Load it in Tools > Scripts, pick the camera and a style, and add the "fdstyle output" source to
a scene.  This file stays thin: it finds its packages, builds the properties, and connects OBS's
settings to the worker thread (fdstyle_core.live.worker) and the ctypes frame path (fdstyle_obs.libobs).
Only the UI thread runs code here: obs-websocket requests reach :func:`_remote` through
``fdstyle_obs.libobs.on_ui_thread``, because the script's settings belong to that thread.
"""

from __future__ import annotations

import atexit
import functools
import logging
import site
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Callable

REPO_DIR = Path(__file__).resolve().parent
VENV_ENV = "FDSTYLE_VENV"
if str(REPO_DIR) not in sys.path:  # the checkout holds fdstyle_core and fdstyle_obs
    sys.path.insert(0, str(REPO_DIR))

from fdstyle_core.io.paths import user_data_dir  # noqa: E402  (needs nothing installed)


def venv_dir() -> Path:
    """The environment install/install.sh creates (``$FDSTYLE_VENV`` overrides)."""
    return user_data_dir("venv", VENV_ENV)


def venv_site_packages(venv: Path) -> list[Path]:
    """Site-packages of ``venv`` for this interpreter's minor version (POSIX and Windows layouts)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [venv / "lib" / version / "site-packages", venv / "Lib" / "site-packages"]
    return [path for path in candidates if path.is_dir()]


def installer_command() -> str:
    """The one command that makes the environment this script looks in, for this OS."""
    if sys.platform.startswith("win"):
        return f'powershell -ExecutionPolicy Bypass -File "{REPO_DIR / "install" / "install.ps1"}"'
    return f'bash "{REPO_DIR / "install" / "install.sh"}"'


def _extend_path() -> None:
    for path in venv_site_packages(venv_dir()):
        site.addsitedir(str(path))


_extend_path()

import obspython as obs  # noqa: E402  (provided by OBS)

try:  # ctypes only: the output source type is registered even when the engine is missing
    from fdstyle_obs import libobs
except Exception as exc:  # an OBS without libobs where ctypes looks (should not happen)
    libobs = None  # type: ignore[assignment]
    LIBOBS_ERROR = f"{type(exc).__name__}: {exc}"
else:
    LIBOBS_ERROR = ""

try:
    from fdstyle_core.engine.selection import available_devices, available_engines
    from fdstyle_core.errors import FdstyleError
    from fdstyle_core.stabilizers import MODES, REGISTRY
    from fdstyle_core.engine.styles import find_styles
    from fdstyle_core.live.worker import WORKER_THREAD, Worker
    from fdstyle_obs import settings as fsettings

    IMPORT_ERROR = ""
except Exception as exc:  # torch, numpy or opencv missing (or broken): explain instead of failing to load
    IMPORT_ERROR = (
        f"fdstyle cannot start: {type(exc).__name__}: {exc}. To install what it needs, run "
        f"{installer_command()} then reload this script (Tools › Scripts › ⟳). "
        f"Python {sys.version.split()[0]} looked in {venv_dir()} (set {VENV_ENV} to another environment)."
    )

log = logging.getLogger("fdstyle")
STATUS_KEY = "status"
STYLE_FILE_KEY = "style_file"  # the file picker; its choice is copied into "style"
# How long unloading waits for the worker, on OBS's UI thread.  A worker still busy (a style being
# converted takes seconds) finishes on its own: a daemon thread whose camera is closed and that
# writes nothing after the stop.
STOP_TIMEOUT_S = 1.5
# When OBS quits it finalizes Python right after unloading the script; a daemon thread still inside
# torch then dies unwinding C++ frames and takes OBS with it.  Python's exit waits this long for it.
EXIT_STOP_TIMEOUT_S = 30.0
TOOLTIPS = {
    "camera_source": "The video source to paint, usually your Video Capture Device.",
    "enabled": "Off: the output shows the camera unchanged, so your call still sees you.",
    "style": "A style from the models folder, or the path of any pytorch/examples-compatible .pth file.",
    STYLE_FILE_KEY: "Pick a .pth style file; it is copied into Style above.",
    "threshold": "Grey levels a pixel may change and still count as unchanged background (0-255).",
    "auto_threshold": "Raise the threshold on a noisy camera: T = max(Threshold T, 4 × the measured noise), at most 40.",
    "dilate_kernel": "paper mode: side of the square that closes small holes in the background mask (odd). "
    "The reference mode drops isolated noise specks instead.",
    "dilate_iters": "paper mode: how many times the background mask is dilated. "
    "The reference mode drops isolated noise specks instead.",
    "erode_kernel": "Side of the square that shrinks the background mask back (odd).",
    "erode_iters": "How many times the background mask is eroded; more = repaint a wider edge around motion.",
    "feather": "reference mode: pixels over which new paint blends into the kept paint (0 = hard seam).",
    "refresh_fraction": "reference mode: when this share of the frame changes at once (camera bumped, "
    "light switched), the whole frame is repainted.",
    "crossfade_frames": "reference mode: frames of cross-fade on a whole-frame repaint (0 = cut).",
    "skip_work": "reference mode: run the network only when something moved, and paint only the moving region.",
    "processing_height": "Height the network paints at, at most (the painting is scaled back to the camera's size). "
    "Lower is much faster; Automatic times the network on this machine and picks the largest height "
    "that keeps the target fps, or a slower camera's own (the status says which and why).",
    "target_fps": "The frame rate Automatic processing height keeps; 0 = OBS's own, at most 30. "
    "A camera that delivers fewer frames is followed at its own rate.",
    "strength": "How much of the painting shows: 0 % is the camera, 100 % the painting.",
    "keep_colours": "Paint the brightness only and keep your camera's colours (skin stays skin-coloured).",
    "device": "Where the network runs (this machine's devices): auto picks CUDA, then Apple MPS, then the CPU.",
    "engine": "What runs the network: auto is OpenVINO on the CPU, Intel GPU and NPU, torch on CUDA and MPS; "
    "torch on the CPU takes over if OpenVINO is missing or fails.",
    "threads": "CPU threads for the network; 0 = all cores but one, which OBS keeps for itself.",
    "show_mask": "Show the stabilizer's mask instead of the painting (white = kept from the last frame).",
}


class Session:
    """Everything one loaded instance of the script owns; :meth:`close` releases all of it."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.reader = libobs.SourceReader()
        self.writer = libobs.OutputWriter()
        self.worker = Worker(self.reader, self.writer)
        self.settings_problem = ""
        self.worker.start()

    def values(self) -> dict[str, Any]:
        getters = {
            str: obs.obs_data_get_string,
            int: obs.obs_data_get_int,
            float: obs.obs_data_get_double,
            bool: obs.obs_data_get_bool,
        }
        return {key: getters[kind](self.settings, key) for key, kind in fsettings.KEY_TYPES.items()}

    def change(self, changes: dict[str, Any]) -> str:
        """Store ``changes`` in the script's settings and apply them; returns the problem, if any."""
        self._write(changes)
        return self.apply()

    def _write(self, changes: dict[str, Any]) -> None:
        setters = {
            str: obs.obs_data_set_string,
            int: obs.obs_data_set_int,
            float: obs.obs_data_set_double,
            bool: obs.obs_data_set_bool,
        }
        for key, value in changes.items():
            setters[fsettings.KEY_TYPES[key]](self.settings, key, value)

    def apply(self) -> str:
        """Hand the current settings to the worker; a bad value is reported (and returned), the last good kept."""
        values = self.values()
        self.reader.retarget(values["camera_source"])
        try:
            config = fsettings.to_worker_config(values, max_fps=obs.obs_get_active_fps() or 30.0)
        except FdstyleError as exc:
            self.settings_problem = str(exc)
            log.warning("settings not applied: %s", exc)
            return self.settings_problem
        self.settings_problem = ""
        self.worker.configure(config)
        return ""

    def status(self) -> dict[str, Any]:
        status = self.worker.status
        extra = [p for p in (self.settings_problem, self.reader.problem) if p]
        if not libobs.output_count():
            extra.append('add the "fdstyle output" source to a scene')
        return {
            "text": status.text() + "".join(f" · problem: {p}" for p in extra),
            "device": status.device,
            "fps": status.fps,
            "latency_ms": status.latency_ms,
            "frames": status.frames,
            "problem": "; ".join(p for p in (status.problem, *extra) if p),  # obs_data has no string arrays
            "notice": status.notice,
            "worker_alive": self.worker.is_alive,
            "worker_threads": sum(t.name == WORKER_THREAD for t in threading.enumerate()),
            "on_ui_thread": threading.current_thread() is threading.main_thread(),  # OBS's UI thread runs Python's main
        }

    def close(self) -> None:
        if not self.worker.stop(STOP_TIMEOUT_S):
            atexit.register(_stop_at_exit, weakref.ref(self.worker))  # weak: a finished worker is freed
        self.reader.close()
        libobs.OutputWriter.clear()


def _stop_at_exit(worker: weakref.ref[Worker]) -> None:
    busy = worker()
    if busy is not None:
        busy.stop(EXIT_STOP_TIMEOUT_S)


# Hotkeys (OBS Settings › Hotkeys): name -> description; each is saved in the script's settings.
HOTKEYS = {
    "fdstyle.toggle": "fdstyle: painting on/off",
    "fdstyle.next_style": "fdstyle: next style",
    "fdstyle.previous_style": "fdstyle: previous style",
    "fdstyle.repaint": "fdstyle: repaint the whole frame now",
}
_hotkey_ids: dict[str, int] = {}

_session: Session | None = None
_passthrough: Any = None  # fdstyle_obs.passthrough.Passthrough while the engine cannot load
_log_handler: logging.Handler | None = None


def _remote(request_type: str, request: dict) -> dict:
    """obs-websocket ``CallVendorRequest`` (vendor "fdstyle"): read status/settings, change settings.

    Lets a Stream Deck, a hotkey tool or a test change the script's settings while OBS runs;
    the change is stored in the script's settings exactly as if made in the Scripts window.
    """
    session = _session
    if session is None:
        return {"ok": False, "error": "the fdstyle script is not loaded"}
    if request_type == "get_status":
        return {"ok": True, **session.status()}
    if request_type == "get_settings":
        return {"ok": True, "settings": session.values()}
    try:
        changes = fsettings.parse_changes(request)
    except FdstyleError as exc:
        return {"ok": False, "error": str(exc)}
    problem = session.change(changes)
    return {"ok": not problem, "error": problem}


def _hotkey_action(name: str) -> None:
    """What a hotkey does; runs on the UI thread, which owns the script's settings."""
    session = _session
    if session is None:
        return
    if name == "fdstyle.repaint":
        session.worker.repaint()
        return
    values = session.values()
    if name == "fdstyle.toggle":
        session.change({"enabled": not values["enabled"]})
        return
    names = [style.name for style in find_styles()]
    if not names:
        return
    step = 1 if name == "fdstyle.next_style" else -1
    index = names.index(values["style"]) + step if values["style"] in names else 0
    session.change({"style": names[index % len(names)]})


def _on_hotkey(name: str) -> Callable[[bool], None]:
    def pressed(is_pressed: bool) -> None:
        if not is_pressed:
            return
        try:
            if threading.current_thread() is threading.main_thread():
                _hotkey_action(name)
            else:  # the hotkey thread: hand the change to the UI thread and wait
                libobs.on_ui_thread(lambda: (_hotkey_action(name), {})[1])
        except Exception as exc:  # noqa: BLE001 - never a traceback into OBS
            log.warning("hotkey %s failed: %s", name, exc)

    return pressed


def _register_hotkeys(settings: Any) -> None:
    for name, description in HOTKEYS.items():
        hotkey_id = obs.obs_hotkey_register_frontend(name, description, _on_hotkey(name))
        saved = obs.obs_data_get_array(settings, name)
        obs.obs_hotkey_load(hotkey_id, saved)
        obs.obs_data_array_release(saved)
        _hotkey_ids[name] = hotkey_id


def _unregister_hotkeys() -> None:
    for hotkey_id in _hotkey_ids.values():
        obs.obs_hotkey_unregister(hotkey_id)
    _hotkey_ids.clear()


# -- OBS script API -----------------------------------------------------------------------


def _guarded(fallback: Any = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """No traceback reaches OBS from an entry point: an unexpected error becomes one log line."""

    def wrap(entry: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(entry)
        def guarded(*args: Any) -> Any:
            try:
                return entry(*args)
            except Exception as exc:  # noqa: BLE001 - the boundary to OBS
                message = f"[fdstyle] {entry.__name__} failed: {type(exc).__name__}: {exc}"
                obs.script_log(obs.LOG_ERROR, message)
                return fallback() if callable(fallback) else fallback

        return guarded

    return wrap


@_guarded("fdstyle")
def script_description() -> str:
    if IMPORT_ERROR or LIBOBS_ERROR:
        return f"<b>fdstyle</b><br>{IMPORT_ERROR or LIBOBS_ERROR}"
    return (
        "<b>fdstyle</b>: a live, flicker-free painting of your camera.<br>"
        'Pick the camera and a style, then add the <b>"fdstyle output"</b> source to a scene '
        "and start the Virtual Camera."
    )


@_guarded()
def script_defaults(settings: Any) -> None:
    if IMPORT_ERROR:
        return
    setters = {
        str: obs.obs_data_set_default_string,
        int: obs.obs_data_set_default_int,
        float: obs.obs_data_set_default_double,
        bool: obs.obs_data_set_default_bool,
    }
    for key, value in fsettings.defaults().items():
        setters[fsettings.KEY_TYPES[key]](settings, key, value)


def _video_source_names() -> list[str]:
    names = []
    sources = obs.obs_enum_sources()
    for source in sources or []:
        is_video = obs.obs_source_get_output_flags(source) & obs.OBS_SOURCE_VIDEO
        if is_video and obs.obs_source_get_unversioned_id(source) != libobs.OUTPUT_SOURCE_ID.decode():
            names.append(obs.obs_source_get_name(source))
    obs.source_list_release(sources)
    return sorted(names, key=str.lower)


def _add_list(props: Any, key: str, label: str, items: list[tuple[str, Any]], editable: bool = False) -> Any:
    """A drop-down of (shown name, stored value); the values are the setting's type (str or int).

    The stored value stays listed even when it is not among ``items`` (a camera that is gone for
    now, a height set remotely or by an older version), so opening the window does not change it.
    An editable list shows the stored text in its own field (OBS stores what the field shows).
    """
    numeric = fsettings.KEY_TYPES[key] is int
    if _session is not None and not editable:
        current = (obs.obs_data_get_int if numeric else obs.obs_data_get_string)(_session.settings, key)
        if current not in ("", *(value for _, value in items)):
            items = [*items, (f"{current} px" if numeric else current, current)]
    kind = obs.OBS_COMBO_TYPE_EDITABLE if editable else obs.OBS_COMBO_TYPE_LIST
    value_format = obs.OBS_COMBO_FORMAT_INT if numeric else obs.OBS_COMBO_FORMAT_STRING
    prop = obs.obs_properties_add_list(props, key, label, kind, value_format)
    add_item = obs.obs_property_list_add_int if numeric else obs.obs_property_list_add_string
    for name, value in items:
        add_item(prop, name, value)
    return prop


def _add_number(props: Any, key: str, label: str, step: float = 1, slider: bool = False) -> Any:
    """An int or float property bounded by the setting's limits (fdstyle_obs.settings.LIMITS)."""
    low, high = fsettings.LIMITS[key]
    if fsettings.KEY_TYPES[key] is float:
        add = obs.obs_properties_add_float_slider if slider else obs.obs_properties_add_float
        return add(props, key, label, low, high, step)
    add = obs.obs_properties_add_int_slider if slider else obs.obs_properties_add_int
    return add(props, key, label, int(low), int(high), int(step))


def _on_style_file(props: Any, prop: Any, settings: Any) -> bool:
    """Copy a picked file into ``style`` so there is one setting that says which style runs."""
    path = obs.obs_data_get_string(settings, STYLE_FILE_KEY)
    if not path:
        return False
    obs.obs_data_set_string(settings, "style", path)
    obs.obs_data_set_string(settings, STYLE_FILE_KEY, "")
    if _session is not None:
        _session.apply()
    return True


def _on_refresh(props: Any, prop: Any) -> bool:
    return True  # re-draws the properties, which re-reads the status


@_guarded(obs.obs_properties_create)
def script_properties() -> Any:
    props = obs.obs_properties_create()
    if IMPORT_ERROR or LIBOBS_ERROR:
        obs.obs_properties_add_text(props, "error", IMPORT_ERROR or LIBOBS_ERROR, obs.OBS_TEXT_INFO)
        return props
    _add_list(props, "camera_source", "Camera source", [(name, name) for name in _video_source_names()])
    obs.obs_properties_add_bool(props, "enabled", "Enabled")
    _add_list(props, "style", "Style", [(s.label, s.name) for s in find_styles()], editable=True)
    picker = obs.obs_properties_add_path(props, STYLE_FILE_KEY, "Style file…", obs.OBS_PATH_FILE, "Style (*.pth)", None)
    obs.obs_property_set_modified_callback(picker, _on_style_file)
    _add_list(props, "mode", "Mode", [(mode, mode) for mode in MODES])
    _add_number(props, "threshold", "Threshold T (grey levels)", slider=True)
    obs.obs_properties_add_bool(props, "auto_threshold", "Threshold from camera noise")
    _add_number(props, "dilate_kernel", "Dilation kernel (paper)", step=2)
    _add_number(props, "dilate_iters", "Dilation iterations (paper)")
    _add_number(props, "erode_kernel", "Erosion kernel", step=2)
    _add_number(props, "erode_iters", "Erosion iterations")
    _add_number(props, "feather", "Feather (px)", slider=True)
    _add_number(props, "refresh_fraction", "Whole-frame refresh above this changed share", step=0.05, slider=True)
    _add_number(props, "crossfade_frames", "Cross-fade frames on a whole-frame refresh")
    obs.obs_properties_add_bool(props, "skip_work", "Skip work without motion (paint the moving region only)")
    _add_list(props, "processing_height", "Processing height", fsettings.PROCESSING_HEIGHTS)
    _add_number(props, "target_fps", "Target fps for Automatic (0 = OBS's, at most 30)")
    _add_number(props, "strength", "Style strength (%)", slider=True)
    obs.obs_properties_add_bool(props, "keep_colours", "Keep the camera's colours")
    _add_list(props, "device", "Device", [(device, device) for device in ["auto", *available_devices()]])
    _add_list(props, "engine", "Engine", [(engine, engine) for engine in ["auto", *available_engines()]])
    _add_number(props, "threads", "CPU threads (0 = all but one)")
    obs.obs_properties_add_bool(props, "show_mask", "Show the mask instead of the painting")
    mode_tip = " ".join(f"{mode}: {REGISTRY[mode].help}." for mode in MODES)
    for key, tip in {**TOOLTIPS, "mode": mode_tip}.items():
        prop = obs.obs_properties_get(props, key)
        if prop is not None:
            obs.obs_property_set_long_description(prop, tip)
    if _session is not None:
        obs.obs_data_set_string(_session.settings, STATUS_KEY, _session.status()["text"])
    obs.obs_properties_add_text(props, STATUS_KEY, "Status", obs.OBS_TEXT_INFO)
    obs.obs_properties_add_button(props, "refresh_status", "Refresh status", _on_refresh)
    return props


@_guarded()
def script_load(settings: Any) -> None:
    global _session, _log_handler
    if libobs is not None:  # scenes that hold the output source keep loading, even without the engine
        libobs.register_output_source(obs.OBS_SOURCE_TYPE_INPUT, obs.OBS_SOURCE_ASYNC_VIDEO, obs.OBS_ICON_TYPE_CAMERA)
    if IMPORT_ERROR or LIBOBS_ERROR:
        obs.script_log(obs.LOG_ERROR, f"[fdstyle] {IMPORT_ERROR or LIBOBS_ERROR}")
        if libobs is not None:  # the camera unchanged, so a call still sees the user
            _start_passthrough(obs.obs_data_get_string(settings, "camera_source"))
        return
    _log_handler = libobs.BlogHandler()
    log.addHandler(_log_handler)
    log.setLevel(logging.INFO)
    if not libobs.register_vendor():
        log.info("obs-websocket not available: remote control of fdstyle is off")
    _session = Session(settings)
    _session.apply()
    _register_hotkeys(settings)
    libobs.set_remote_handler(_remote)
    log.info("loaded (%s)", REPO_DIR)


@_guarded()
def script_save(settings: Any) -> None:
    """Key bindings are saved with the script's settings, so each scene collection keeps its own."""
    for name, hotkey_id in _hotkey_ids.items():
        bindings = obs.obs_hotkey_save(hotkey_id)
        obs.obs_data_set_array(settings, name, bindings)
        obs.obs_data_array_release(bindings)


def _start_passthrough(camera: str) -> None:
    global _passthrough
    from fdstyle_obs.passthrough import Passthrough

    _passthrough = Passthrough(libobs.SourceReader(camera), libobs.OutputWriter())
    _passthrough.start()


@_guarded()
def script_update(settings: Any) -> None:
    if _session is not None:
        _session.apply()
    if _passthrough is not None:
        _passthrough.retarget(obs.obs_data_get_string(settings, "camera_source"))


@_guarded()
def script_unload() -> None:
    global _session, _log_handler, _passthrough
    if _passthrough is not None:
        if not _passthrough.stop():
            obs.script_log(obs.LOG_WARNING, "[fdstyle] the camera pass-through did not stop in time")
        libobs.OutputWriter.clear()
        _passthrough = None
    if IMPORT_ERROR or LIBOBS_ERROR:
        return
    started = time.perf_counter()
    libobs.set_remote_handler(None)
    _unregister_hotkeys()
    if _session is not None:
        _session.close()
        _session = None
    log.info("unloaded in %.2f s", time.perf_counter() - started)  # on OBS's UI thread: must stay short
    if _log_handler is not None:
        log.removeHandler(_log_handler)
        _log_handler = None
