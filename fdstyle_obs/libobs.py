"""Every ctypes call into libobs lives here: reading a source's pixels, the output source, logging.

Why ctypes and not obspython: obspython cannot map a stage surface, cannot hand pixels to a
texture, cannot register a source type, and never releases the GIL.  A ctypes call releases the
GIL for its duration, so a Python thread waiting on a libobs lock never blocks another thread that
holds that lock and needs the GIL (the start-up deadlock described in docs/obs-integration.md).

What must outlive a script reload (the registered source type, the obs-websocket vendor, every
callback thunk and the strings libobs keeps pointers to) lives in one process-wide registry module
stored in ``sys.modules``.  libobs cannot unregister a source type and obs-websocket cannot
unregister a vendor (it deletes its vendors itself at exit, with C++ ``delete``, outside OBS's
leak count), so both are made once per process; while no script is loaded the vendor's requests
answer "not loaded" instead of disappearing.  Nothing here adds to OBS's "Number of memory leaks":
with or without the script OBS 29.0.2 reports one plus one per scene-collection switch.
"""

from __future__ import annotations

import ctypes
import json
import logging
import sys
import threading
import time
import types
from ctypes import POINTER, Structure, byref, c_bool, c_char_p, c_float, c_int, c_size_t, c_uint8, c_uint32
from ctypes import c_uint64, c_void_p
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # numpy is imported where pixels move, so the source type registers without it
    import numpy as np

OUTPUT_SOURCE_ID = b"fdstyle_output"
OUTPUT_DISPLAY_NAME = b"fdstyle output"
VENDOR_NAME = b"fdstyle"
VENDOR_REQUESTS = (b"get_status", b"get_settings", b"set_settings")
_REGISTRY_KEY = "_fdstyle_obs_registry"

# libobs enums that obspython does not export (values unchanged in OBS 28-32).
VIDEO_FORMAT_RGBA = 6
VIDEO_RANGE_DEFAULT = 0
GS_RGBA = 3
GS_ZS_NONE = 0
GS_CLEAR_COLOR = 1
GS_BLEND_ONE = 1
GS_BLEND_ZERO = 0
OBS_TASK_UI = 0  # enum obs_task_type
LOG_LEVELS = {logging.ERROR: 100, logging.WARNING: 200, logging.INFO: 300, logging.DEBUG: 400}
# How often a missing camera source is looked up again (the lookup takes libobs' sources lock).
LOOKUP_INTERVAL_S = 1.0

_GetName = ctypes.CFUNCTYPE(c_void_p, c_void_p)
_Create = ctypes.CFUNCTYPE(c_void_p, c_void_p, c_void_p)
_Destroy = ctypes.CFUNCTYPE(None, c_void_p)
_VendorCallback = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, c_void_p)
_Task = ctypes.CFUNCTYPE(None, c_void_p)  # obs_task_t

# Fields of ``struct obs_source_info`` after ``destroy`` up to ``icon_type``; all are pointers.
_INFO_POINTER_FIELDS = (
    "get_width get_height get_defaults get_properties update activate deactivate show hide "
    "video_tick video_render filter_video filter_audio enum_active_sources save load mouse_click "
    "mouse_move mouse_wheel focus key_click filter_remove type_data free_type_data audio_render "
    "enum_all_sources transition_start transition_stop get_defaults2 get_properties2 audio_mix"
).split()


class SourceInfoPrefix(Structure):
    """The leading part of ``struct obs_source_info``; obs_register_source_s copies only this much."""

    _fields_ = [
        ("id", c_char_p),
        ("type", c_int),
        ("output_flags", c_uint32),
        ("get_name", _GetName),
        ("create", _Create),
        ("destroy", _Destroy),
        *[(name, c_void_p) for name in _INFO_POINTER_FIELDS],
        ("icon_type", c_int),
    ]


class SourceFrame2(Structure):
    """``struct obs_source_frame2`` (libobs/obs.h), the frame handed to obs_source_output_video2."""

    _fields_ = [
        ("data", c_void_p * 8),
        ("linesize", c_uint32 * 8),
        ("width", c_uint32),
        ("height", c_uint32),
        ("timestamp", c_uint64),
        ("format", c_int),
        ("range", c_int),
        ("color_matrix", c_float * 16),
        ("color_range_min", c_float * 3),
        ("color_range_max", c_float * 3),
        ("flip", c_bool),
        ("flags", c_uint8),
        ("trc", c_uint8),
    ]


class CallData(Structure):
    """``calldata_t``; its setters for strings and pointers are inline in the headers."""

    _fields_ = [("stack", c_void_p), ("size", c_size_t), ("capacity", c_size_t), ("fixed", c_bool)]


class VendorCallbackInfo(Structure):
    _fields_ = [("callback", _VendorCallback), ("priv_data", c_void_p)]


_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "obs_enter_graphics": (None, []),
    "obs_leave_graphics": (None, []),
    "gs_texrender_create": (c_void_p, [c_int, c_int]),
    "gs_texrender_destroy": (None, [c_void_p]),
    "gs_texrender_reset": (None, [c_void_p]),
    "gs_texrender_begin": (c_bool, [c_void_p, c_uint32, c_uint32]),
    "gs_texrender_end": (None, [c_void_p]),
    "gs_texrender_get_texture": (c_void_p, [c_void_p]),
    "gs_clear": (None, [c_uint32, c_void_p, c_float, c_uint8]),
    "gs_ortho": (None, [c_float] * 6),
    "gs_blend_state_push": (None, []),
    "gs_blend_state_pop": (None, []),
    "gs_blend_function": (None, [c_int, c_int]),
    "gs_stagesurface_create": (c_void_p, [c_uint32, c_uint32, c_int]),
    "gs_stagesurface_destroy": (None, [c_void_p]),
    "gs_stage_texture": (None, [c_void_p, c_void_p]),
    "gs_stagesurface_map": (c_bool, [c_void_p, POINTER(c_void_p), POINTER(c_uint32)]),
    "gs_stagesurface_unmap": (None, [c_void_p]),
    "obs_source_video_render": (None, [c_void_p]),
    "obs_source_get_base_width": (c_uint32, [c_void_p]),
    "obs_source_get_base_height": (c_uint32, [c_void_p]),
    "obs_get_source_by_name": (c_void_p, [c_char_p]),
    "obs_source_release": (None, [c_void_p]),
    "obs_source_removed": (c_bool, [c_void_p]),
    "obs_source_inc_showing": (None, [c_void_p]),
    "obs_source_dec_showing": (None, [c_void_p]),
    "obs_source_output_video2": (None, [c_void_p, POINTER(SourceFrame2)]),
    "obs_source_set_async_unbuffered": (None, [c_void_p, c_bool]),
    "obs_register_source_s": (None, [POINTER(SourceInfoPrefix), c_size_t]),
    "os_gettime_ns": (c_uint64, []),
    "obs_get_proc_handler": (c_void_p, []),
    "proc_handler_call": (c_bool, [c_void_p, c_char_p, POINTER(CallData)]),
    "calldata_set_data": (None, [POINTER(CallData), c_char_p, c_void_p, c_size_t]),
    "calldata_get_data": (c_bool, [POINTER(CallData), c_char_p, c_void_p, c_size_t]),
    "bfree": (None, [c_void_p]),
    "obs_data_get_json": (c_char_p, [c_void_p]),
    "obs_data_create_from_json": (c_void_p, [c_char_p]),
    "obs_data_apply": (None, [c_void_p, c_void_p]),
    "obs_data_release": (None, [c_void_p]),
    "obs_queue_task": (None, [c_int, _Task, c_void_p, c_bool]),
    "blog": (None, [c_int, c_char_p]),  # variadic: the message goes in as one extra "%s" argument
}


def _load_library() -> ctypes.CDLL:
    """The libobs that OBS has already loaded into this process."""
    if sys.platform.startswith("win"):
        return ctypes.CDLL("obs")
    if sys.platform == "darwin":
        return ctypes.CDLL(None)
    return ctypes.CDLL("libobs.so.0")


def _bind(library: ctypes.CDLL) -> types.SimpleNamespace:
    functions = {}
    for name, (restype, argtypes) in _SIGNATURES.items():
        function = getattr(library, name)
        function.restype, function.argtypes = restype, argtypes
        functions[name] = function
    return types.SimpleNamespace(**functions)


def registry() -> types.ModuleType:
    """Process-wide state that survives script reloads (OBS re-imports the script on reload)."""
    existing = sys.modules.get(_REGISTRY_KEY)
    if existing is not None:
        return existing
    state = types.ModuleType(_REGISTRY_KEY, "fdstyle's libobs registrations (kept for the process)")
    state.lib = _bind(_load_library())
    state.keepalive = []  # thunks, structs and strings that libobs points to
    state.outputs = set()  # obs_source_t* of every live fdstyle_output source
    state.outputs_lock = threading.Lock()
    state.source_registered = False
    state.vendor = None
    state.remote_handler = None  # set by the loaded script; None while no script is loaded
    sys.modules[_REGISTRY_KEY] = state
    return state


def lib() -> types.SimpleNamespace:
    return registry().lib


# -- logging -------------------------------------------------------------------------------


class BlogHandler(logging.Handler):
    """Python logging into OBS's log via ctypes ``blog``: safe from any thread (releases the GIL)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = LOG_LEVELS.get(record.levelno, 300 if record.levelno < logging.WARNING else 100)
            message = f"[fdstyle] {self.format(record)}".encode("utf-8", "replace")
            lib().blog(level, b"%s", c_char_p(message))
        except Exception:  # logging must never raise into the caller
            self.handleError(record)


# -- the output source ---------------------------------------------------------------------


def _on_get_name(_type_data: int | None) -> int:
    return ctypes.addressof(registry().display_name)


def _on_create(_settings: int | None, source: int | None) -> int | None:
    """Remember the new source; its pointer doubles as the non-NULL private data libobs needs."""
    if not source:
        return None
    state = registry()
    state.lib.obs_source_set_async_unbuffered(source, True)
    with state.outputs_lock:
        state.outputs.add(source)
    return source


def _on_destroy(data: int | None) -> None:
    state = registry()
    with state.outputs_lock:
        state.outputs.discard(data)


def register_output_source(source_type: int, output_flags: int, icon_type: int) -> None:
    """Register ``fdstyle_output`` once per process; the constants come from obspython."""
    state = registry()
    if state.source_registered:
        return
    state.display_name = ctypes.create_string_buffer(OUTPUT_DISPLAY_NAME)
    info = SourceInfoPrefix(
        id=OUTPUT_SOURCE_ID,
        type=source_type,
        output_flags=output_flags,
        get_name=_GetName(_on_get_name),
        create=_Create(_on_create),
        destroy=_Destroy(_on_destroy),
        icon_type=icon_type,
    )
    state.keepalive.append(info)
    state.lib.obs_register_source_s(byref(info), ctypes.sizeof(info))
    state.source_registered = True


def output_count() -> int:
    state = registry()
    with state.outputs_lock:
        return len(state.outputs)


class OutputWriter:
    """Pushes RGB frames (as the RGBA libobs takes) to every ``fdstyle_output`` source; libobs copies each frame."""

    def __init__(self) -> None:
        self._frame = SourceFrame2()
        self._frame.format = VIDEO_FORMAT_RGBA
        self._frame.range = VIDEO_RANGE_DEFAULT

    def __call__(self, rgb: np.ndarray) -> None:
        import cv2

        rgba = cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)  # opaque: a camera painting has no transparency
        height, width = rgba.shape[:2]
        frame = self._frame
        frame.data[0] = rgba.ctypes.data
        frame.linesize[0] = width * 4
        frame.width, frame.height = width, height
        state = registry()
        frame.timestamp = state.lib.os_gettime_ns()
        with state.outputs_lock:
            for source in state.outputs:
                state.lib.obs_source_output_video2(source, byref(frame))

    @staticmethod
    def clear() -> None:
        """Make every output source show nothing (used when processing stops)."""
        state = registry()
        with state.outputs_lock:
            for source in state.outputs:
                state.lib.obs_source_output_video2(source, None)


# -- reading a source's pixels -------------------------------------------------------------


class SourceReader:
    """Reads the newest picture of a named source as H×W×3 RGB, one frame behind (no GPU stall).

    Called from the worker thread only, except :meth:`retarget` (any thread) and :meth:`close`
    (on unload; it waits for a read in progress, and later reads return nothing, so a worker that
    did not stop in time cannot take a new reference on the camera).  Holds one strong reference
    and one "showing" count on the source while reading, so a camera set to deactivate when
    hidden keeps delivering frames.
    """

    def __init__(self, name: str = "") -> None:
        self._lib = lib()
        self._wanted = name
        self._wanted_lock = threading.Lock()
        self._name = ""
        self._source: int | None = None
        self._next_lookup = 0.0
        self._size = (0, 0)
        self._texrender: int | None = None
        self._stages: list[int | None] = [None, None]
        self._staged = [False, False]
        self._index = 0
        self._clear_color = (c_float * 8)()  # gs_clear reads a 16-byte aligned vec4
        self._use_lock = threading.Lock()
        self._closed = False
        self.problem = ""

    def retarget(self, name: str) -> None:
        with self._wanted_lock:
            self._wanted = name

    def __call__(self) -> np.ndarray | None:
        with self._use_lock:
            return None if self._closed else self._read()

    def _read(self) -> np.ndarray | None:
        with self._wanted_lock:
            wanted = self._wanted
        if wanted != self._name:
            self._drop_source()
            self._name, self._next_lookup = wanted, 0.0
        if not self._ensure_source():
            return None
        assert self._source is not None
        width = self._lib.obs_source_get_base_width(self._source)
        height = self._lib.obs_source_get_base_height(self._source)
        if not width or not height:
            self.problem = f"camera '{self._name}' has no picture yet"
            return None
        self.problem = ""
        return self._render_and_read(self._source, width, height)

    def _ensure_source(self) -> bool:
        if self._source is not None and self._lib.obs_source_removed(self._source):
            self._drop_source()
        if self._source is not None:
            return True
        if not self._name:
            self.problem = "choose a camera source"
            return False
        now = time.monotonic()
        if now < self._next_lookup:
            return False
        self._next_lookup = now + LOOKUP_INTERVAL_S
        source = self._lib.obs_get_source_by_name(self._name.encode("utf-8"))
        if not source:
            self.problem = f"waiting for camera source '{self._name}' (not found)"
            return False
        self._source = source
        self._lib.obs_source_inc_showing(source)
        return True

    def _drop_source(self) -> None:
        if self._source is not None:
            self._lib.obs_source_dec_showing(self._source)
            self._lib.obs_source_release(self._source)
            self._source = None

    def _clear_color_address(self) -> int:
        address = ctypes.addressof(self._clear_color)
        return (address + 15) & ~15

    def _render_and_read(self, source: int, width: int, height: int) -> np.ndarray | None:
        lib_ = self._lib
        lib_.obs_enter_graphics()
        try:
            if (width, height) != self._size:
                self._destroy_graphics()
                self._texrender = lib_.gs_texrender_create(GS_RGBA, GS_ZS_NONE)
                self._stages = [lib_.gs_stagesurface_create(width, height, GS_RGBA) for _ in range(2)]
                self._size = (width, height)
            texrender = self._texrender
            lib_.gs_texrender_reset(texrender)
            if not lib_.gs_texrender_begin(texrender, width, height):
                return None
            lib_.gs_clear(GS_CLEAR_COLOR, self._clear_color_address(), 0.0, 0)
            lib_.gs_ortho(0.0, float(width), 0.0, float(height), -100.0, 100.0)
            lib_.gs_blend_state_push()
            lib_.gs_blend_function(GS_BLEND_ONE, GS_BLEND_ZERO)
            lib_.obs_source_video_render(source)
            lib_.gs_blend_state_pop()
            lib_.gs_texrender_end(texrender)
            current, previous = self._index, 1 - self._index
            lib_.gs_stage_texture(self._stages[current], lib_.gs_texrender_get_texture(texrender))
            self._staged[current] = True
            self._index = previous
            if not self._staged[previous]:
                return None
            return self._map_copy(self._stages[previous], width, height)
        finally:
            lib_.obs_leave_graphics()

    def _map_copy(self, stage: int | None, width: int, height: int) -> np.ndarray | None:
        """The staged RGBA picture as RGB: the one copy out of the mapped memory drops the alpha."""
        import cv2
        import numpy as np

        data, linesize = c_void_p(), c_uint32()
        if not self._lib.gs_stagesurface_map(stage, byref(data), byref(linesize)):
            return None
        try:
            rows = (c_uint8 * (linesize.value * height)).from_address(data.value)
            pixels = np.frombuffer(rows, dtype=np.uint8).reshape(height, linesize.value)
            return cv2.cvtColor(pixels[:, : width * 4].reshape(height, width, 4), cv2.COLOR_RGBA2RGB)
        finally:
            self._lib.gs_stagesurface_unmap(stage)

    def _destroy_graphics(self) -> None:
        """Must run inside obs_enter_graphics."""
        for stage in self._stages:
            if stage:
                self._lib.gs_stagesurface_destroy(stage)
        if self._texrender:
            self._lib.gs_texrender_destroy(self._texrender)
        self._texrender, self._stages, self._staged = None, [None, None], [False, False]
        self._size = (0, 0)

    def close(self) -> None:
        """Release the source and the graphics objects for good."""
        with self._use_lock:
            self._closed = True
            self._drop_source()
            self._name = ""
            if self._texrender or any(self._stages):
                self._lib.obs_enter_graphics()
                try:
                    self._destroy_graphics()
                finally:
                    self._lib.obs_leave_graphics()


# -- obs-websocket vendor requests ---------------------------------------------------------

RemoteHandler = Callable[[str, dict], dict]


def _calldata_set_string(cd: CallData, name: bytes, value: bytes) -> None:
    buffer = ctypes.create_string_buffer(value)
    lib().calldata_set_data(byref(cd), name, buffer, len(value) + 1)


def _calldata_set_ptr(cd: CallData, name: bytes, value: int | None) -> None:
    pointer = c_void_p(value)
    lib().calldata_set_data(byref(cd), name, byref(pointer), ctypes.sizeof(pointer))


def _calldata_get_ptr(cd: CallData, name: bytes) -> int | None:
    pointer = c_void_p()
    if not lib().calldata_get_data(byref(cd), name, byref(pointer), ctypes.sizeof(pointer)):
        return None
    return pointer.value


def _calldata_get_bool(cd: CallData, name: bytes) -> bool:
    value = c_bool()
    return bool(lib().calldata_get_data(byref(cd), name, byref(value), ctypes.sizeof(value)) and value.value)


def _call_proc(handler: int, proc: bytes, fill: Callable[[CallData], None]) -> CallData:
    """Call a proc and return its calldata; the caller frees it with :func:`_free_calldata`."""
    cd = CallData()
    fill(cd)
    lib().proc_handler_call(handler, proc, byref(cd))
    return cd


def _free_calldata(cd: CallData) -> None:
    if cd.stack and not cd.fixed:
        lib().bfree(cd.stack)


def on_ui_thread(work: Callable[[], dict]) -> dict:
    """Run ``work`` on OBS's UI thread and wait for its answer.

    The script's settings (an ``obs_data_t``, which has no lock) and its state belong to the UI
    thread, where OBS's Scripts window edits them; obs-websocket itself hands work to that thread
    this way.  The calling thread waits inside ctypes, so the GIL is free for the UI thread.
    """
    answers: list[dict] = []
    failures: list[BaseException] = []

    def task(_param: int | None) -> None:
        try:
            answers.append(work())
        except BaseException as exc:  # raised again on the calling thread
            failures.append(exc)

    lib().obs_queue_task(OBS_TASK_UI, _Task(task), None, True)
    if failures:
        raise failures[0]
    if not answers:
        raise RuntimeError("OBS has no UI thread to run the request on")
    return answers[0]


def _on_vendor_request(request_data: int | None, response_data: int | None, priv_data: int | None) -> None:
    """Runs on an obs-websocket thread; hands the request to the loaded script on the UI thread."""
    state = registry()
    request_type = VENDOR_REQUESTS[priv_data or 0].decode()
    raw = state.lib.obs_data_get_json(request_data) if request_data else None
    try:
        request = json.loads(raw.decode("utf-8")) if raw else {}

        def answer() -> dict:
            handler = state.remote_handler  # read on the UI thread, where the script loads and unloads
            return handler(request_type, request) if handler else {"ok": False, "error": "the fdstyle script is not loaded"}

        response = on_ui_thread(answer)
    except Exception as exc:  # a remote request must never take OBS down
        logging.getLogger("fdstyle").exception("remote request %s failed", request_type)
        response = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    reply = state.lib.obs_data_create_from_json(json.dumps(response).encode("utf-8"))
    if reply and response_data:
        state.lib.obs_data_apply(response_data, reply)
    if reply:
        state.lib.obs_data_release(reply)


def register_vendor() -> bool:
    """Make the ``fdstyle`` obs-websocket vendor exist once per process; False if unavailable."""
    state = registry()
    if state.vendor:
        return True
    global_handler = state.lib.obs_get_proc_handler()
    cd = _call_proc(global_handler, b"obs_websocket_api_get_ph", lambda _cd: None)
    websocket_handler = _calldata_get_ptr(cd, b"ph")
    _free_calldata(cd)
    if not websocket_handler:
        return False
    cd = _call_proc(websocket_handler, b"vendor_register", lambda c: _calldata_set_string(c, b"name", VENDOR_NAME))
    vendor = _calldata_get_ptr(cd, b"vendor")
    _free_calldata(cd)
    if not vendor:
        return False
    thunk = _VendorCallback(_on_vendor_request)
    state.keepalive.append(thunk)
    for index, request_type in enumerate(VENDOR_REQUESTS):
        info = VendorCallbackInfo(callback=thunk, priv_data=index)
        state.keepalive.append(info)

        def fill(cd: CallData, request_type: bytes = request_type, info: VendorCallbackInfo = info) -> None:
            _calldata_set_ptr(cd, b"vendor", vendor)
            _calldata_set_string(cd, b"type", request_type)
            _calldata_set_ptr(cd, b"callback", ctypes.addressof(info))

        cd = _call_proc(websocket_handler, b"vendor_request_register", fill)
        ok = _calldata_get_bool(cd, b"success")
        _free_calldata(cd)
        if not ok:
            logging.getLogger("fdstyle").warning("could not register remote request %s", request_type.decode())
    state.vendor = vendor
    return True


def set_remote_handler(handler: RemoteHandler | None) -> None:
    registry().remote_handler = handler
