"""Every ctypes call into libobs lives in this package: reading a source's pixels (``reader``), the
output source (``output_source``), logging (``log``), obs-websocket requests (``vendor``), all
through the bindings and the reload-proof registry of ``bindings``.

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

from fdstyle_obs.libobs.bindings import OUTPUT_SOURCE_ID
from fdstyle_obs.libobs.log import BlogHandler
from fdstyle_obs.libobs.output_source import (
    OutputWriter,
    output_count,
    register_output_source,
)
from fdstyle_obs.libobs.reader import SourceReader
from fdstyle_obs.libobs.vendor import on_ui_thread, register_vendor, set_remote_handler

__all__ = [
    "OUTPUT_SOURCE_ID", "BlogHandler", "OutputWriter", "SourceReader",
    "on_ui_thread", "output_count", "register_output_source", "register_vendor", "set_remote_handler",
]
