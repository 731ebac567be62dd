"""The 3.12+ backend: PEP 669 ``sys.monitoring`` local events on exactly the hooked code objects.

Every other function runs at full speed, and every alias of a hooked function (imported names,
bound methods, callbacks stored anywhere) is covered because the code itself carries the events.
Per-call state is keyed by the frame, so generators, coroutines, recursion and threads each
keep their own.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from livescope.instrument import engine

_mon = getattr(sys, "monitoring", None)
_EVENTS = 0
if _mon is not None:
    _E = _mon.events
    _EVENTS = _E.PY_START | _E.PY_RETURN  # local: only the hooked code objects
    # PY_UNWIND cannot be a local event; it is global while anything is hooked (it only
    # costs when an exception leaves a frame) and ignored for frames we did not start.

_state: dict[str, Any] = {"tool": None}
_pending: dict[Any, tuple] = {}  # frame -> call_enter state
_lock = threading.Lock()


def _tool() -> int:
    tool = _state["tool"]
    if tool is not None:
        return tool
    for candidate in (4, 3, 2, 5, 1, 0):
        if _mon.get_tool(candidate) is None:
            _mon.use_tool_id(candidate, "livescope")
            _mon.register_callback(candidate, _E.PY_START, _on_start)
            _mon.register_callback(candidate, _E.PY_RETURN, _on_return)
            _mon.register_callback(candidate, _E.PY_UNWIND, _on_unwind)
            _mon.set_events(candidate, _E.PY_UNWIND)
            _state["tool"] = candidate
            return candidate
    raise RuntimeError("no free sys.monitoring tool id (all six are in use)")


def install(entry: engine.Entry) -> None:
    with _lock:
        _mon.set_local_events(_tool(), entry.ref.code, _EVENTS)


def uninstall(entry: engine.Entry) -> None:
    with _lock:
        tool = _state["tool"]
        if tool is not None:
            _mon.set_local_events(tool, entry.ref.code, 0)
        for frame in [f for f in _pending if f.f_code is entry.ref.code]:
            _pending.pop(frame, None)


def shutdown() -> None:
    """Give the tool id back once nothing is hooked."""
    with _lock:
        tool = _state["tool"]
        if tool is None:
            return
        for event in (_E.PY_START, _E.PY_RETURN, _E.PY_UNWIND):
            _mon.register_callback(tool, event, None)
        _mon.set_events(tool, 0)
        _mon.free_tool_id(tool)
        _state["tool"] = None
        _pending.clear()


def _params(frame: Any, entry: engine.Entry) -> tuple[tuple, Any]:
    """Arguments in signature order: positional, ``*args`` items, keyword-only, ``**kwargs``."""
    code = entry.ref.code
    local = frame.f_locals
    names = code.co_varnames
    argc, kwonly = code.co_argcount, code.co_kwonlyargcount
    values = [local.get(n) for n in names[:argc]]
    extra = argc + kwonly
    if code.co_flags & 0x04:  # *args
        values.extend(local.get(names[extra]) or ())
        extra += 1
    values.extend(local.get(n) for n in names[argc : argc + kwonly])
    if code.co_flags & 0x08:  # **kwargs
        values.append(local.get(names[extra]))
    target = None
    if entry.ref.has_target and values:
        target = values.pop(0)
    return tuple(values), target


def _on_start(code: Any, offset: int) -> None:
    entry = engine._entries.get(code)
    if entry is None or not entry.listeners:
        return
    frame = sys._getframe(1)
    if frame in _pending:
        return
    try:
        params, target = _params(frame, entry)
    except Exception:
        return
    state = engine.call_enter(entry, params, target)
    if state is not None:
        _pending[frame] = state


def _on_return(code: Any, offset: int, retval: Any) -> None:
    if not _pending:
        return
    state = _pending.pop(sys._getframe(1), None)
    if state is not None:
        engine.call_exit(state, retval, None)


def _on_unwind(code: Any, offset: int, exc: BaseException) -> None:
    if not _pending or code not in engine._entries:
        return
    state = _pending.pop(sys._getframe(1), None)
    if state is not None:
        engine.call_exit(state, None, exc)
