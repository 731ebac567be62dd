"""One instrumentation engine, many listeners: watch, trace, stack, tt and monitor plug in here.

A hooked function is keyed by its code object. The backend (``sys.monitoring`` on 3.12+,
reference-replacing wrappers on 3.10/3.11) calls :func:`call_enter` / :func:`call_exit` around
every call; those build the :class:`Advice` and fan it out to the listeners of that code.
Hooks never fire on livescope's own threads, nor inside a listener (a ``repr`` in a listener
that calls a hooked function must not recurse). Listener errors are swallowed: the target's
behaviour, return values and exceptions are never altered.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from livescope.instrument.advice import Advice, CallSite
from livescope.instrument.matcher import MethodRef, compile_pattern
from livescope.model.common import EnhancerAffectVO

try:  # built by the package install when a compiler was there, for that Python only
    from livescope.instrument import _hotpath
except ImportError:
    _hotpath = None

clock = time.perf_counter_ns


def _own_thread() -> bool:
    return threading.current_thread().name.startswith("livescope")


class _ThreadState(threading.local):
    """Per thread: whether hooks stay silent here (a livescope thread, or inside a listener)."""

    def __init__(self) -> None:  # runs once in each thread, at its first hooked call
        self.muted = _own_thread()


_local = _ThreadState()
_lock = threading.RLock()
_next_listener_id = 1


class Listener:
    """Receives advices of the functions it was registered for. Subclass and override."""

    wants_before = False  # call before() at entry (watch -b, stack with -b ...)

    def __init__(self) -> None:
        self.listener_id = 0

    def before(self, advice: Advice) -> None:
        """At function entry (only when ``wants_before``)."""

    def after(self, advice: Advice) -> None:
        """At return or exception exit; ``advice.cost`` is the call's wall time in ms."""


class Entry:
    """One hooked code object: what it is and who listens (a tuple, replaced on change)."""

    __slots__ = ("ref", "site", "drops_target", "listeners", "before_listeners")

    def __init__(self, ref: MethodRef) -> None:
        self.ref = ref
        clazz = ref.clazz if ref.clazz is not None else ref.owner
        self.site = CallSite(clazz, ref.function, ref.class_name, ref.method_name, ref.kind)
        self.drops_target = ref.kind == "classmethod"  # Arthas has no target for a classmethod
        self.listeners: tuple[Listener, ...] = ()
        self.before_listeners: tuple[Listener, ...] = ()

    def set_listeners(self, listeners: Sequence[Listener]) -> None:
        self.listeners = tuple(listeners)
        self.before_listeners = tuple(x for x in listeners if x.wants_before)


_entries: dict[Any, Entry] = {}  # code object -> Entry
_by_listener: dict[int, tuple[Listener, list[Any]]] = {}
# Bumped whenever hooks are removed: state a listener left on a thread (trace's profile
# function) checks it cheaply and, once it changed, whether its hook is still there.
generation = 0


def _backend() -> Any:
    if sys.version_info >= (3, 12):
        from livescope.instrument import monitoring

        return monitoring
    from livescope.instrument import wrappers

    return wrappers


def _python_suppressed() -> bool:
    return _local.muted


def _python_mute() -> None:
    _local.muted = True


def _python_unmute() -> None:
    _local.muted = False


# suppressed(): True inside a listener or on a livescope thread, where hooks stay silent;
# mute()/unmute() around a listener. The state lives in C thread-locals when the accelerator
# is built for this Python, since the C callbacks read it on every hooked call.
if _hotpath is not None:
    suppressed, mute, unmute = _hotpath.muted, _hotpath.mute, _hotpath.unmute
else:
    suppressed, mute, unmute = _python_suppressed, _python_mute, _python_unmute


def call_enter(entry: Entry, params: tuple, target: Any) -> tuple:
    """Start of one call; returns the state :func:`call_exit` needs.

    The backend calls it only when ``entry`` has listeners and :func:`suppressed` is false.
    """
    advice = Advice.at_call(entry.site, params, None if entry.drops_target else target)
    if entry.before_listeners:
        advice.is_before = True
        _notify(entry.before_listeners, advice, before=True)
        advice.is_before = False
    return (clock(), advice, entry.listeners)


def late_enter(entry: Entry, start: int, params: tuple, target: Any) -> tuple:
    """The :func:`call_enter` state of a call whose start was only timed (no before-listener)."""
    return (
        start,
        Advice.at_call(entry.site, params, None if entry.drops_target else target),
        entry.listeners,
    )


def call_exit(state: tuple, return_obj: Any, throw_exp: BaseException | None) -> None:
    """End of one call started by :func:`call_enter`."""
    start, advice, listeners = state
    advice.cost = (clock() - start) / 1e6
    if throw_exp is not None:
        advice.is_throw = True
        advice.throw_exp = throw_exp
    else:
        advice.is_return = True
        advice.return_obj = return_obj
    _notify(listeners, advice, before=False)


def _notify(listeners: Sequence[Listener], advice: Advice, *, before: bool) -> None:
    mute()
    try:
        for listener in listeners:
            # no contextlib.suppress: a context manager per call costs ~0.2 µs on the hot path
            try:  # noqa: SIM105
                (listener.before if before else listener.after)(advice)
            except Exception:  # a listener bug must never reach the target
                pass
    finally:
        unmute()


def enhance(refs: Sequence[MethodRef], listener: Listener) -> EnhancerAffectVO:
    """Hook ``refs`` for ``listener``; the effect says how many classes/methods were touched."""
    global _next_listener_id
    started = time.perf_counter()
    backend = _backend()
    with _lock:
        listener.listener_id = _next_listener_id
        _next_listener_id += 1
        codes: list[Any] = []
        try:
            for ref in refs:
                entry = _entries.get(ref.code)
                if entry is None:
                    entry = Entry(ref)
                    backend.install(entry)
                    _entries[ref.code] = entry
                entry.set_listeners((*entry.listeners, listener))
                codes.append(ref.code)
        except BaseException:
            _drop(listener, codes)  # what went in before the failure comes out again
            raise
        _by_listener[listener.listener_id] = (listener, codes)
    return EnhancerAffectVO(
        cost=int((time.perf_counter() - started) * 1000),
        class_count=len({r.class_name for r in refs}),
        method_count=len(refs),
        listener_id=listener.listener_id,
    )


def remove(listener: Listener) -> None:
    """Unhook everything ``listener`` had; codes nobody else listens to are restored."""
    with _lock:
        item = _by_listener.pop(listener.listener_id, None)
        if item is None:
            return
        _drop(listener, item[1])


def listening(listener: Listener, code: Any) -> bool:
    """Whether ``listener`` still receives the calls of ``code``."""
    entry = _entries.get(code)
    return entry is not None and listener in entry.listeners


def _drop(listener: Listener, codes: Sequence[Any]) -> tuple[set[str], int]:
    global generation
    generation += 1
    backend = _backend()
    classes: set[str] = set()
    methods = 0
    for code in codes:
        entry = _entries.get(code)
        if entry is None:
            continue
        entry.set_listeners([x for x in entry.listeners if x is not listener])
        if not entry.listeners:
            del _entries[code]
            backend.uninstall(entry)
            classes.add(entry.ref.class_name)
            methods += 1
    if not _entries:
        backend.shutdown()
    return classes, methods


def reset(pattern: str | None = None) -> EnhancerAffectVO:
    """Remove every hook (or those of classes matching the wildcard ``pattern``)."""
    started = time.perf_counter()
    class_ok = compile_pattern(pattern, False) if pattern else None
    classes: set[str] = set()
    methods = 0
    with _lock:
        for listener_id, (listener, codes) in list(_by_listener.items()):
            chosen = [
                c
                for c in codes
                if c in _entries and (class_ok is None or class_ok(_entries[c].ref.class_name))
            ]
            got_classes, got_methods = _drop(listener, chosen)
            classes |= got_classes
            methods += got_methods
            remaining = [c for c in codes if c not in chosen]
            if remaining:
                _by_listener[listener_id] = (listener, remaining)
            else:
                del _by_listener[listener_id]
    return EnhancerAffectVO(
        cost=int((time.perf_counter() - started) * 1000),
        class_count=len(classes),
        method_count=methods,
    )


def hooked_count() -> int:
    """How many code objects are hooked right now (0 when nothing is left behind)."""
    with _lock:
        return len(_entries)
