"""The ``fdstyle_output`` source type: registered once per process, fed with frames by the worker."""

from __future__ import annotations

import ctypes
from ctypes import byref
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where pixels move, so the source type registers without it
    import numpy as np

from fdstyle_obs.libobs.bindings import (
    OUTPUT_DISPLAY_NAME,
    OUTPUT_SOURCE_ID,
    VIDEO_FORMAT_RGBA,
    VIDEO_RANGE_DEFAULT,
    CreateCallback,
    DestroyCallback,
    GetNameCallback,
    SourceFrame2,
    SourceInfoPrefix,
    registry,
)


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
        get_name=GetNameCallback(_on_get_name),
        create=CreateCallback(_on_create),
        destroy=DestroyCallback(_on_destroy),
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
        self.push_rgba(rgba.ctypes.data, width * 4, width, height)

    def push_rgba(self, address: int, linesize: int, width: int, height: int) -> None:
        """Push the RGBA picture at ``address`` (valid for the call: libobs copies it)."""
        frame = self._frame
        frame.data[0] = address
        frame.linesize[0] = linesize
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
