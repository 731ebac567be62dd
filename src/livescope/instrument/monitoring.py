"""The 3.12+ backend: PEP 669 ``sys.monitoring`` local events on exactly the hooked code objects.

Every other function runs at full speed, and every alias of a hooked function (imported names,
bound methods, callbacks stored anywhere) is covered because the code itself carries the events.
Per-call state is keyed by the frame, so generators, coroutines, recursion and threads each
keep their own.
"""

from __future__ import annotations

import dis
import sys
import threading
from collections.abc import Callable
from typing import Any

from livescope.instrument import engine
from livescope.instrument.advice import Advice
from livescope.instrument.engine import _hotpath

_mon = getattr(sys, "monitoring", None)
_EVENTS = 0
if _mon is not None:
    _E = _mon.events
    _EVENTS = _E.PY_START | _E.PY_RETURN  # local: only the hooked code objects
    # PY_UNWIND cannot be a local event; it is global while anything is hooked (it only
    # costs when an exception leaves a frame) and ignored for frames we did not start.

_state: dict[str, Any] = {"tool": None}
_pending: dict[Any, tuple] = {}  # frame -> call_enter state
# code -> (entry, arguments reader, whether the arguments may be read at the exit, the
# reader's plan for the C callbacks)
_hooked: dict[Any, tuple[engine.Entry, Callable[[dict], tuple[tuple, Any]], bool, tuple]] = {}
_lock = threading.Lock()
_getframe = sys._getframe
_clock = engine.clock


def _forget() -> None:
    """Tell the C callbacks that the hooked table changed (they cache their last lookup)."""
    if _hotpath is not None:
        _hotpath.forget()


def _tool() -> int:
    tool = _state["tool"]
    if tool is not None:
        return tool
    for candidate in (4, 3, 2, 5, 1, 0):
        if _mon.get_tool(candidate) is None:
            _mon.use_tool_id(candidate, "livescope")
            callbacks = (_on_start, _on_return, _on_unwind)
            if _hotpath is not None:  # the same callbacks in C, when built for this Python
                _hotpath.configure(
                    _hooked, _pending, engine._own_thread, _start_frame, _late_state, Advice
                )
                callbacks = (_hotpath.on_start, _hotpath.on_return, _hotpath.on_unwind)
            for event, callback in zip(
                (_E.PY_START, _E.PY_RETURN, _E.PY_UNWIND), callbacks, strict=True
            ):
                _mon.register_callback(candidate, event, callback)
            _mon.set_events(candidate, _E.PY_UNWIND)
            _state["tool"] = candidate
            return candidate
    raise RuntimeError("no free sys.monitoring tool id (all six are in use)")


def install(entry: engine.Entry) -> None:
    with _lock:
        code = entry.ref.code
        reader, plan = _arguments_reader(entry), _argument_plan(entry)
        _hooked[code] = (entry, reader, _arguments_kept(code), plan)
        _forget()
        _mon.set_local_events(_tool(), entry.ref.code, _EVENTS)
        if code.co_flags & _RESUMABLE and _CLOSES_SILENTLY:
            _sweeper.run()


# 3.13+ closes a suspended generator that cannot catch GeneratorExit without resuming it: no
# event reports the end of such a call (``next(gen())``, a ``for`` left by ``break``). While a
# generator or coroutine is hooked, a thread looks every half second for pending frames that
# only ``_pending`` still holds - their generator is gone - and ends them as 3.12 reports them,
# with GeneratorExit.
_RESUMABLE = 0x20 | 0x80 | 0x100 | 0x200  # generator, coroutine, iterable coroutine, async gen
_CLOSES_SILENTLY = sys.version_info >= (3, 13)
SWEEP_INTERVAL = 0.5


def _reference_counts(mapping: dict) -> list[tuple[Any, int]]:
    return [(key, sys.getrefcount(key)) for key in list(mapping)]


_ALONE = _reference_counts({object(): None})[0][1]  # a key nothing else holds, counted so


def _abandoned() -> list[tuple[Any, Any]]:
    """(frame, state) of the pending calls whose generator or coroutine was dropped."""
    with _lock:
        dropped = [
            frame
            for frame, count in _reference_counts(_pending)
            if count <= _ALONE and frame.f_code.co_flags & _RESUMABLE
        ]
        ended = [(frame, _pending.pop(frame, None)) for frame in dropped]
        return [(frame, state) for frame, state in ended if state is not None]


class _Sweeper:
    """The thread ending dropped generator calls, running while one is hooked (3.13+)."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.stop = threading.Event()

    def run(self) -> None:  # under _lock
        if self.thread is None:
            self.stop = threading.Event()
            self.thread = threading.Thread(
                target=self._loop, args=(self.stop,), name="livescope-generator-sweep", daemon=True
            )
            self.thread.start()

    def end(self) -> None:  # under _lock
        self.stop.set()
        self.thread = None

    def _loop(self, stop: threading.Event) -> None:
        while not stop.wait(SWEEP_INTERVAL):
            for frame, state in _abandoned():
                if state.__class__ is int:
                    state = _late_state(frame.f_code, frame, state)
                if state is not None:
                    engine.call_exit(state, None, GeneratorExit())
            with _lock:
                if not any(code.co_flags & _RESUMABLE for code in _hooked):
                    if not stop.is_set():
                        self.thread = None  # the next hooked generator starts another
                    return


_sweeper = _Sweeper()


def uninstall(entry: engine.Entry) -> None:
    with _lock:
        tool = _state["tool"]
        if tool is not None:
            _mon.set_local_events(tool, entry.ref.code, 0)
        _hooked.pop(entry.ref.code, None)
        _forget()
        for frame in list(_pending):  # a snapshot: hooked calls on other threads change it
            if frame.f_code is entry.ref.code:
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
        _sweeper.end()


def _arguments_reader(entry: engine.Entry) -> Callable[[dict], tuple[tuple, Any]]:
    """A function from a frame's locals to ``(params, target)``, generated once per hook.

    Arguments come in signature order: positional, ``*args`` items, keyword-only, ``**kwargs``.
    The reader is straight-line code naming each argument (names are the code object's own
    identifiers), because it runs on every call of the hooked function.
    """
    code = entry.ref.code
    names = code.co_varnames
    argc, kwonly = code.co_argcount, code.co_kwonlyargcount
    items = [f"get({name!r})" for name in names[:argc]]
    extra = argc + kwonly
    if code.co_flags & 0x04:  # *args
        items.append(f"*(get({names[extra]!r}) or ())")
        extra += 1
    items += [f"get({name!r})" for name in names[argc : argc + kwonly]]
    if code.co_flags & 0x08:  # **kwargs
        items.append(f"get({names[extra]!r})")
    if entry.ref.has_target and argc:
        result = f"{_tuple_source(items[1:])}, {items[0]}"
    elif entry.ref.has_target:  # self arrives inside *args
        result = f"{_tuple_source(items)}[1:], ({_tuple_source(items)} or (None,))[0]"
    else:
        result = f"{_tuple_source(items)}, None"
    source = f"def read(local):\n    get = local.get\n    return {result}\n"
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # noqa: S102 - generated from identifiers only
    return namespace["read"]


def _argument_plan(entry: engine.Entry) -> tuple:
    """What :func:`_arguments_reader` reads, as data for the C callbacks: (positional names,
    ``*args`` name, keyword-only names, ``**kwargs`` name, has target, call site, keeps the
    target)."""
    code = entry.ref.code
    names = code.co_varnames
    argc, kwonly = code.co_argcount, code.co_kwonlyargcount
    extra = argc + kwonly
    varargs = names[extra] if code.co_flags & 0x04 else None
    varkw = names[extra + (varargs is not None)] if code.co_flags & 0x08 else None
    return (
        names[:argc],
        varargs,
        names[argc:extra],
        varkw,
        entry.ref.has_target,
        entry.site,
        not entry.drops_target,
    )


def _tuple_source(items: list[str]) -> str:
    return f"({', '.join(items)},)" if items else "()"


def _arguments_kept(code: Any) -> bool:
    """True when the function never rebinds one of its arguments: their values when it returns
    are then the ones it was called with, and can be read there instead of at the start."""
    count = code.co_argcount + code.co_kwonlyargcount
    count += bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)
    arguments = set(code.co_varnames[:count])
    if arguments & set(code.co_cellvars):  # an inner function may rebind it
        return False
    for instruction in dis.get_instructions(code):
        if instruction.opname.startswith(("STORE_FAST", "DELETE_FAST")):
            names = instruction.argval
            if arguments & ({names} if isinstance(names, str) else set(names)):
                return False
    return True


# The callbacks run inside the target's calls: an Exception of theirs must never reach it (a
# hook may go on another thread between two of their steps). KeyboardInterrupt and SystemExit
# are the program's own, delivered wherever it happens to be, and pass.


def _on_start(code: Any, offset: int) -> None:
    try:
        hooked = _hooked.get(code)
        if hooked is None:
            return
        entry, _, read_late, _ = hooked
        if not entry.listeners or engine.suppressed():
            return
        frame = _getframe(1)
        if frame in _pending:
            return
        if read_late and not entry.before_listeners:
            _pending[frame] = _clock()  # the cheapest start: arguments are read at the exit
            return
        _start_frame(code, frame)
    except Exception:
        return


def _start_frame(code: Any, frame: Any) -> None:
    """A start that reads the arguments now (and runs the before-listeners)."""
    try:
        entry, read_arguments, _, _ = _hooked[code]  # gone if unhooked since the start event
        params, target = read_arguments(frame.f_locals)
        _pending[frame] = engine.call_enter(entry, params, target)
    except Exception:
        return


def _late_state(code: Any, frame: Any, start: int) -> tuple | None:
    """The full state of a call whose start was only timed: its arguments, read at the exit."""
    hooked = _hooked.get(code)
    if hooked is None:
        return None
    entry, read_arguments, _, _ = hooked
    try:
        params, target = read_arguments(frame.f_locals)
    except Exception:
        return None
    return engine.late_enter(entry, start, params, target)


def _exit_state(code: Any, frame: Any) -> tuple | None:
    state = _pending.pop(frame, None)
    if state.__class__ is int:
        return _late_state(code, frame, state)
    return state


def _on_return(code: Any, offset: int, retval: Any) -> None:
    if not _pending:
        return
    try:
        state = _exit_state(code, _getframe(1))
        if state is not None:
            engine.call_exit(state, retval, None)
    except Exception:
        return


def _on_unwind(code: Any, offset: int, exc: BaseException) -> None:
    if not _pending or code not in _hooked:
        return
    try:
        state = _exit_state(code, _getframe(1))
        if state is not None:
            engine.call_exit(state, None, exc)
    except Exception:
        return
