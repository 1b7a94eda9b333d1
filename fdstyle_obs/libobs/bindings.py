"""The libobs functions fdstyle calls through ctypes, their signatures and structures, and the
process-wide registry that outlives script reloads."""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
import types
from ctypes import (
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_float,
    c_int,
    c_size_t,
    c_uint8,
    c_uint32,
    c_uint64,
    c_void_p,
)
from typing import Any

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

GetNameCallback = ctypes.CFUNCTYPE(c_void_p, c_void_p)
CreateCallback = ctypes.CFUNCTYPE(c_void_p, c_void_p, c_void_p)
DestroyCallback = ctypes.CFUNCTYPE(None, c_void_p)
VendorCallback = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, c_void_p)
TaskCallback = ctypes.CFUNCTYPE(None, c_void_p)  # obs_task_t

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
        ("get_name", GetNameCallback),
        ("create", CreateCallback),
        ("destroy", DestroyCallback),
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
    _fields_ = [("callback", VendorCallback), ("priv_data", c_void_p)]


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
    "obs_queue_task": (None, [c_int, TaskCallback, c_void_p, c_bool]),
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
