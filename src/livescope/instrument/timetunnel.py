"""tt's store of recorded calls, shared by every session (as in Arthas), bounded, and replay."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from livescope.instrument.advice import Advice

CAPACITY = 1000  # oldest records are dropped beyond this; each one pins its arguments
FIRST_INDEX = 1000


class TimeTunnel:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._records: OrderedDict[int, tuple[Advice, str]] = OrderedDict()
        self._next = FIRST_INDEX
        self._lock = threading.Lock()

    def add(self, advice: Advice, timestamp: str) -> int:
        with self._lock:
            index = self._next
            self._next += 1
            self._records[index] = (advice, timestamp)
            while len(self._records) > self.capacity:
                self._records.popitem(last=False)
            return index

    def get(self, index: int) -> tuple[Advice, str] | None:
        with self._lock:
            return self._records.get(index)

    def items(self) -> list[tuple[int, Advice, str]]:
        with self._lock:
            return [(i, a, t) for i, (a, t) in self._records.items()]

    def delete(self, index: int) -> bool:
        with self._lock:
            return self._records.pop(index, None) is not None

    def clear(self) -> int:
        with self._lock:
            count = len(self._records)
            self._records.clear()
            return count


TUNNEL = TimeTunnel()


def replay(advice: Advice) -> Any:
    """Call the recorded function again with the recorded target and arguments.

    Positional, ``*args``, keyword-only and ``**kwargs`` parameters are put back where the
    original call had them (parameters are recorded flat, in code order).
    """
    code = advice.method.__code__
    values = list(advice.params)
    if advice.kind in ("method", "property"):
        values.insert(0, advice.target)
    elif advice.kind == "classmethod":
        values.insert(0, advice.clazz)
    kwonly = code.co_kwonlyargcount
    has_varargs = bool(code.co_flags & 0x04)
    has_varkw = bool(code.co_flags & 0x08)
    kwargs: dict[str, Any] = dict(values.pop()) if has_varkw and values else {}
    named = code.co_varnames[code.co_argcount : code.co_argcount + kwonly]
    if kwonly:
        kwargs.update(zip(named, values[len(values) - kwonly :], strict=True))
        values = values[: len(values) - kwonly]
    if not has_varargs:
        values = values[: code.co_argcount]
    return advice.method(*values, **kwargs)
