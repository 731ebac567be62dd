"""What ``trace`` measures inside one traced call: its direct callees, merged by call site.

A per-thread profile function (``sys.setprofile``) is installed while at least one traced call
runs on that thread and taken off when the last one ends - or, if the hook went while a call
ran (the job ended, ``reset``), at its next event. One profile function serves every traced
call of the thread, so calls of an ``async`` function that overlap on one event loop each get
their own tree.

A callee that is a generator or a coroutine is one call from its start to its end, timed in
wall time across its yields and awaits, as the traced function itself is. Whether a frame's
``return`` event is a suspension, a return or an exception is read from the instruction it
stopped at: the profile function is told nothing else.
"""

from __future__ import annotations

import dis
import inspect
import sys
import threading
import time
from typing import Any

from livescope.instrument import engine
from livescope.model.enhance import MethodNode
from livescope.model.render import frame_class_name

_RESUMABLE = (
    inspect.CO_GENERATOR
    | inspect.CO_COROUTINE
    | inspect.CO_ITERABLE_COROUTINE
    | inspect.CO_ASYNC_GENERATOR
)
_YIELD_VALUE = dis.opmap["YIELD_VALUE"]
_RESUME = dis.opmap.get("RESUME")  # 3.11+: after a yield its argument is 1-3
_YIELD_FROM = dis.opmap.get("YIELD_FROM")  # 3.10: an await stops just before it
_RETURNS = frozenset(
    dis.opmap[name] for name in ("RETURN_VALUE", "RETURN_CONST") if name in dis.opmap
)


def suspended(frame: Any) -> bool:
    """At a ``return`` event of a generator or coroutine frame: it yielded, and will resume."""
    code, at = frame.f_code.co_code, frame.f_lasti
    if at < 0:
        return False
    op = code[at]
    if op == _YIELD_VALUE or (op == _RESUME and code[at + 1] & 3):
        return True
    return _YIELD_FROM is not None and code[at + 2 : at + 3] == bytes([_YIELD_FROM])


def returned(frame: Any) -> bool:
    """At a final ``return`` event: the frame returned (else an exception left it)."""
    at = frame.f_lasti
    return at >= 0 and frame.f_code.co_code[at] in _RETURNS


class CallTree:
    """The direct callees of one traced call, timed in ns."""

    def __init__(
        self, listener: engine.Listener, code: Any, root: Any, skip_builtins: bool
    ) -> None:
        self.listener = listener
        self.code = code
        self.root = root  # the traced call's frame; None until its first event (3.10/3.11)
        self.skip_builtins = skip_builtins
        self.open: dict[Any, list] = {}  # callee frame (or builtin) -> [key, start, last exit]
        self.nodes: dict[tuple, MethodNode] = {}

    def event(self, frame: Any, event: str, arg: Any) -> None:
        root = self.root
        if root is None:
            if event == "call" and frame.f_code is self.code:
                self.root = frame
            return
        if event == "call":
            if frame.f_back is root and frame not in self.open:  # a resume is already open
                key = (frame_class_name(frame), frame.f_code.co_name, root.f_lineno)
                now = time.perf_counter_ns()
                self.open[frame] = [key, now, now]
        elif event == "return":
            state = self.open.get(frame)
            if state is None:
                return
            if frame.f_code.co_flags & _RESUMABLE and suspended(frame):
                state[2] = time.perf_counter_ns()
            else:
                del self.open[frame]
                self._add(state[0], time.perf_counter_ns() - state[1], not returned(frame))
        elif not self.skip_builtins and frame is root:
            if event == "c_call":
                name = getattr(arg, "__qualname__", getattr(arg, "__name__", "?"))
                owner = getattr(arg, "__module__", None) or "builtins"
                now = time.perf_counter_ns()
                self.open[arg] = [(owner, name, frame.f_lineno), now, now]
            elif event in ("c_return", "c_exception") and arg in self.open:
                key, started, _ = self.open.pop(arg)
                self._add(key, time.perf_counter_ns() - started, event == "c_exception")

    def finish(self) -> list[MethodNode]:
        """The callee nodes once the traced call ended; a generator it left unfinished counts
        up to its last yield."""
        for key, started, last in self.open.values():
            self._add(key, last - started, False)
        self.open.clear()
        return list(self.nodes.values())

    def _add(self, key: tuple, cost: int, threw: bool) -> None:
        node = self.nodes.get(key)
        if node is None:
            node = self.nodes[key] = MethodNode(
                class_name=key[0], method_name=key[1], line_number=key[2], min_cost=cost
            )
        node.times += 1
        node.total_cost += cost
        node.cost = node.total_cost
        node.min_cost = min(node.min_cost, cost)
        node.max_cost = max(node.max_cost, cost)
        if threw:
            node.throw = True


class _ThreadTracer(threading.local):
    """The traced calls running on this thread and the one profile function feeding them."""

    def __init__(self) -> None:
        self.trees: list[CallTree] = []
        self.previous: Any = None
        self.generation = engine.generation

    def roots(self, listener: engine.Listener) -> set[int]:
        return {id(t.root) for t in self.trees if t.listener is listener and t.root is not None}

    def add(self, tree: CallTree) -> None:
        if not self.trees:
            self.previous = sys.getprofile()
            self.generation = engine.generation
            sys.setprofile(self.profile)
        self.trees.append(tree)

    def remove(self, tree: CallTree) -> None:
        if tree in self.trees:
            self.trees.remove(tree)
            if not self.trees:
                sys.setprofile(self.previous)

    def profile(self, frame: Any, event: str, arg: Any) -> None:
        if self.generation != engine.generation:  # hooks went: drop the trees that lost theirs
            self.generation = engine.generation
            self.trees = [t for t in self.trees if engine.listening(t.listener, t.code)]
            if not self.trees:
                sys.setprofile(self.previous)
                return
        for tree in self.trees:
            tree.event(frame, event, arg)


tracer = _ThreadTracer()


def start(listener: engine.Listener, code: Any, skip_builtins: bool) -> CallTree | None:
    """Begin a tree for the call of ``code`` starting on this thread, or None when that call
    is a recursion inside one already traced for ``listener`` (it belongs to that tree)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code is not code:
        frame = frame.f_back
    outer = tracer.roots(listener)
    if outer:
        parent = frame.f_back if frame is not None else sys._getframe(1)
        while parent is not None:
            if id(parent) in outer:
                return None
            parent = parent.f_back
    tree = CallTree(listener, code, frame, skip_builtins)
    tracer.add(tree)
    return tree


def end(tree: CallTree) -> list[MethodNode]:
    """End ``tree`` (its call returned or raised) and return its callee nodes."""
    tracer.remove(tree)
    return tree.finish()
