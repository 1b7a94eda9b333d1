"""Reading a source's pixels: render it to a texture, stage it, map it (a read later when reads come fast: no GPU stall)."""

from __future__ import annotations

import ctypes
import threading
import time
from ctypes import byref, c_float, c_uint8, c_uint32, c_void_p
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # numpy is imported where pixels move, so the source type registers without it
    import numpy as np

    from fdstyle_obs.libobs.output_source import OutputWriter

from fdstyle_obs.libobs.bindings import (
    GS_BLEND_ONE,
    GS_BLEND_ZERO,
    GS_CLEAR_COLOR,
    GS_RGBA,
    GS_ZS_NONE,
    LOOKUP_INTERVAL_S,
    lib,
)


# What is done with a staged picture: (stage surface, width, height) → result.
Consumer = Callable[[Any, int, int], Any]
# Reads further apart than this map the picture they have just staged: waiting a read for it
# would make the picture a whole (long) loop period older, while the copy itself takes a frame
# at most.  Closer reads map the one staged a read earlier, so the GPU never stalls them.
SAME_READ_AFTER_S = 0.05


class SourceReader:
    """Reads the newest picture of a named source as H×W×3 RGB.

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
        self._last_read = -float("inf")
        self._clear_color = (c_float * 8)()  # gs_clear reads a 16-byte aligned vec4
        self._rgba = (c_uint8 * 0)()  # the last picture forwarded as it was mapped
        self._rgba_linesize = 0
        self._use_lock = threading.Lock()
        self._closed = False
        self.problem = ""

    def retarget(self, name: str) -> None:
        with self._wanted_lock:
            self._wanted = name

    def __call__(self) -> np.ndarray | None:
        with self._use_lock:
            return None if self._closed else self._read(self._map_copy)

    def forward(self, writer: OutputWriter) -> bool:
        """Hand the newest picture straight to ``writer``, no numpy involved (the camera shown
        unchanged while the engine is missing); False when there was none.

        As in the worker's path, the picture is copied out while the graphics lock is held and
        pushed once it is released: no libobs call waits on the source's locks under it.
        """
        with self._use_lock:
            picture = None if self._closed else self._read(self._map_copy_rgba)
        if picture is None:
            return False
        writer.push_rgba(ctypes.addressof(picture), self._rgba_linesize, *self._size)
        return True

    def _read(self, consume: Consumer) -> Any:
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
        return self._render_and_read(self._source, width, height, consume)

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

    def _render_and_read(self, source: int, width: int, height: int, consume: Consumer) -> Any:
        """Render ``source`` and stage it; ``consume`` that picture, or after a short gap the one
        staged a call earlier (see :data:`SAME_READ_AFTER_S`)."""
        now = time.monotonic()
        same_read, self._last_read = now - self._last_read > SAME_READ_AFTER_S, now
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
            if same_read:
                return consume(self._stages[current], width, height)
            if not self._staged[previous]:
                return None
            return consume(self._stages[previous], width, height)
        finally:
            lib_.obs_leave_graphics()

    def _mapped(self, stage: int | None, width: int, height: int, use: Callable[[int, int, int, int], Any]) -> Any:
        """``use(address, linesize, width, height)`` on the staged RGBA picture while it is mapped."""
        data, linesize = c_void_p(), c_uint32()
        if not self._lib.gs_stagesurface_map(stage, byref(data), byref(linesize)):
            return None
        try:
            return use(data.value, linesize.value, width, height)
        finally:
            self._lib.gs_stagesurface_unmap(stage)

    def _map_copy(self, stage: int | None, width: int, height: int) -> np.ndarray | None:
        """The staged RGBA picture as RGB: the one copy out of the mapped memory drops the alpha."""
        import cv2
        import numpy as np

        def copy_rgb(data: int, linesize: int, width: int, height: int) -> np.ndarray:
            rows = (c_uint8 * (linesize * height)).from_address(data)
            pixels = np.frombuffer(rows, dtype=np.uint8).reshape(height, linesize)
            return cv2.cvtColor(pixels[:, : width * 4].reshape(height, width, 4), cv2.COLOR_RGBA2RGB)

        return self._mapped(stage, width, height, copy_rgb)

    def _map_copy_rgba(self, stage: int | None, width: int, height: int) -> ctypes.Array | None:
        """The staged RGBA picture copied as it is (one memmove, no numpy) into a reused buffer."""

        def copy(data: int, linesize: int, _width: int, _height: int) -> ctypes.Array:
            size = linesize * height
            if len(self._rgba) != size:
                self._rgba = (c_uint8 * size)()
            ctypes.memmove(self._rgba, data, size)
            self._rgba_linesize = linesize
            return self._rgba

        return self._mapped(stage, width, height, copy)

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
