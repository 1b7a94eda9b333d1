"""obs-websocket vendor requests (vendor "fdstyle": get_status, get_settings, set_settings), answered
on OBS's UI thread."""

from __future__ import annotations

import ctypes
import json
import logging
from ctypes import byref, c_bool, c_void_p
from typing import Callable

from fdstyle_obs.libobs.bindings import (
    OBS_TASK_UI,
    VENDOR_NAME,
    VENDOR_REQUESTS,
    CallData,
    TaskCallback,
    VendorCallback,
    VendorCallbackInfo,
    lib,
    registry,
)

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

    lib().obs_queue_task(OBS_TASK_UI, TaskCallback(task), None, True)
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
    thunk = VendorCallback(_on_vendor_request)
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
