"""The ``thread`` command: Python threads as Arthas shows JVM threads.

Thread ids are OS thread ids (``threading.get_native_id()``, the TID that ``top -H``,
``/proc/<pid>/task`` and py-spy show); a thread not started through ``threading`` shows its
``threading`` ident instead. Per-thread CPU comes from ``/proc/self/task/<tid>/stat``.
"""

from __future__ import annotations

import ast
import asyncio
import gc
import linecache
import os
import re
import sys
import threading
import time
import types
from dataclasses import dataclass
from typing import Any

from livescope.commands.base import Command, CommandContext, CommandError
from livescope.commands.spec import (
    Argument,
    Option,
    ParsedArgs,
    non_negative_int,
    positive_int,
)
from livescope.model.inspect import (
    THREAD_STATES,
    AsyncTaskVO,
    BlockingLockInfo,
    BusyThreadInfo,
    ThreadInfo,
    ThreadModel,
    ThreadVO,
)
from livescope.model.render import stack_element

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_ACQUIRE = re.compile(r"\.acquire\(|^\s*(async\s+)?with\b")
_SLEEP = re.compile(r"\bsleep\(")


@dataclass
class PyThread:
    """One live thread: its ids, ``threading`` object (if any) and current top frame."""

    id: int
    ident: int
    name: str
    daemon: bool
    frame: types.FrameType | None


def live_threads() -> list[PyThread]:
    """Every thread with a Python frame, plus ``threading`` threads that have none yet."""
    frames = sys._current_frames()
    by_ident = {t.ident: t for t in threading.enumerate() if t.ident is not None}
    out = []
    for ident in sorted(set(frames) | set(by_ident)):
        t = by_ident.get(ident)
        native = getattr(t, "native_id", None) if t is not None else None
        out.append(
            PyThread(
                id=native or ident,
                ident=ident,
                name=t.name if t is not None else f"Dummy-{ident}",
                daemon=bool(t.daemon) if t is not None else True,
                frame=frames.get(ident),
            )
        )
    return out


def cpu_ticks(tid: int) -> int | None:
    """utime+stime of one thread in clock ticks, or None where /proc does not have it."""
    try:
        with open(f"/proc/self/task/{tid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def os_state(tid: int) -> str | None:
    try:
        with open(f"/proc/self/task/{tid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return None


def _line(frame: types.FrameType) -> str:
    return linecache.getline(frame.f_code.co_filename, frame.f_lineno or 0)


def thread_state(thread: PyThread) -> str:
    """Java Thread.State of a Python thread, read from the OS state and its top frame.

    Running on a CPU ⇒ RUNNABLE. Asleep: in ``Condition.wait``/``Event.wait``/``Thread.join``
    ⇒ WAITING (TIMED_WAITING with a timeout); on a ``with lock:`` / ``lock.acquire()`` line
    ⇒ BLOCKED; on a ``sleep(`` line ⇒ TIMED_WAITING; anything else (I/O, select) ⇒ RUNNABLE,
    as Java reports threads blocked in native I/O.
    """
    frame = thread.frame
    if frame is None:
        return "RUNNABLE"
    if os_state(thread.id) == "R":
        return "RUNNABLE"
    code = frame.f_code
    if code.co_filename == threading.__file__:
        if code.co_name in ("wait", "_wait_for_tstate_lock", "join"):
            timeout = frame.f_locals.get("timeout")
            return "WAITING" if timeout in (None, -1) else "TIMED_WAITING"
        if code.co_name == "wait_for":
            return "WAITING"
    text = _line(frame)
    if _SLEEP.search(text):
        return "TIMED_WAITING"
    if _ACQUIRE.search(text):
        return "BLOCKED"
    return "RUNNABLE"


def stack_of(frame: types.FrameType | None, depth: int = 0) -> list[dict[str, Any]]:
    """The frames of a thread, innermost first, as StackTraceElements."""
    out = []
    while frame is not None and (depth <= 0 or len(out) < depth):
        out.append(stack_element(frame))
        frame = frame.f_back
    return out


# --- lock analysis (thread -b) ------------------------------------------------------------


def _resolve(node: ast.expr, frame: types.FrameType) -> Any:
    """Value of a plain ``name`` / ``a.b.c`` / ``a[0]`` expression in a frame; never calls code."""
    if isinstance(node, ast.Name):
        for space in (frame.f_locals, frame.f_globals, frame.f_builtins):
            if node.id in space:
                return space[node.id]
        raise LookupError(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, frame)
        try:
            return object.__getattribute__(base, node.attr)
        except AttributeError:
            return getattr(type(base), node.attr)  # class attributes, never properties' code
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        base = _resolve(node.value, frame)
        if isinstance(base, (list, tuple, dict)):
            return base[node.slice.value]
    raise LookupError(ast.dump(node))


def _function_tree(code: types.CodeType) -> ast.AST | None:
    lines = linecache.getlines(code.co_filename)
    if not lines:
        return None
    try:
        return ast.parse("".join(lines))
    except SyntaxError:
        return None


def waited_lock(frame: types.FrameType) -> Any:
    """The lock object a thread waits for on its top line (``with X:`` / ``X.acquire()``)."""
    text = _line(frame).strip()
    body = text[:-1] if text.endswith(":") else text
    if body.startswith(("with ", "async with ")):
        body = body.split("with ", 1)[1].split(" as ")[0]
        body = body.rstrip(":").strip()
    elif ".acquire(" in body:
        body = body.split(".acquire(")[0].split("=")[-1].strip()
        body = body.removeprefix("if ").removeprefix("not ").strip()
    else:
        return None
    try:
        return _resolve(ast.parse(body, mode="eval").body, frame)
    except Exception:
        return None


def held_locks(frame: types.FrameType | None) -> list[Any]:
    """Locks a thread holds through ``with X:`` blocks enclosing the current line of any frame."""
    held: list[Any] = []
    while frame is not None:
        tree = _function_tree(frame.f_code)
        line = frame.f_lineno or 0
        for node in ast.walk(tree) if tree is not None else ():
            if not isinstance(node, (ast.With, ast.AsyncWith)) or not node.body:
                continue
            if not node.body[0].lineno <= line <= (node.end_lineno or node.lineno):
                continue
            for item in node.items:
                try:
                    held.append(_resolve(item.context_expr, frame))
                except Exception:
                    continue
        frame = frame.f_back
    return held


def rlock_owner(lock: Any) -> int | None:
    """The ident owning an RLock: ``_owner`` (pure-Python RLock) or the C RLock's repr."""
    owner = getattr(lock, "_owner", None)
    if isinstance(owner, int) and owner:
        return owner
    match = re.search(r"owner=(\d+)", repr(lock))
    return int(match.group(1)) or None if match else None


def most_blocking(threads: list[PyThread]) -> tuple[PyThread, Any, int] | None:
    """(holder, lock, number of waiters) for the lock most threads wait on, if one is known."""
    waiting: dict[int, tuple[Any, int]] = {}
    for t in threads:
        if t.frame is None or thread_state(t) != "BLOCKED":
            continue
        lock = waited_lock(t.frame)
        if lock is not None:
            _, n = waiting.get(id(lock), (lock, 0))
            waiting[id(lock)] = (lock, n + 1)
    best = None
    for lock, count in sorted(waiting.values(), key=lambda item: -item[1]):
        owner = rlock_owner(lock)
        holder = next((t for t in threads if t.ident == owner), None) if owner else None
        if holder is None:
            holder = next((t for t in threads if any(h is lock for h in held_locks(t.frame))), None)
        if holder is not None:
            best = (holder, lock, count)
            break
    return best


# --- asyncio tasks (thread --tasks) -------------------------------------------------------


def running_loops() -> list[asyncio.AbstractEventLoop]:
    return [o for o in gc.get_objects() if isinstance(o, asyncio.BaseEventLoop) and o.is_running()]


def loop_tasks(loop: asyncio.AbstractEventLoop, depth: int) -> list[AsyncTaskVO]:
    thread_ident = getattr(loop, "_thread_id", None)
    native = next(
        (t.native_id for t in threading.enumerate() if t.ident == thread_ident), thread_ident
    )
    out = []
    for _ in range(3):  # the loop's WeakSet can change while we copy it
        try:
            tasks = list(asyncio.all_tasks(loop))
            break
        except RuntimeError:
            continue
    else:
        tasks = []
    for task in tasks:
        coro = task.get_coro()
        frames = task.get_stack(limit=depth or None)
        out.append(
            AsyncTaskVO(
                name=task.get_name(),
                state="DONE" if task.done() else "PENDING",
                coroutine=getattr(coro, "__qualname__", repr(coro)),
                loop_thread_id=native,
                stack_trace=[stack_element(f) for f in reversed(frames)],
            )
        )
    return out


# --- the command --------------------------------------------------------------------------


def _cpu_sample(threads: list[PyThread], interval_ms: int, ctx: CommandContext) -> dict:
    """{tid: (cpu %, delta ms, total ms)} over ``interval_ms``."""
    before = {t.id: cpu_ticks(t.id) for t in threads}
    start = time.monotonic()
    if interval_ms > 0:
        ctx.wait(interval_ms / 1000)
    elapsed = max(time.monotonic() - start, 1e-6)
    out = {}
    for t in threads:
        after, first = cpu_ticks(t.id), before.get(t.id)
        if after is None:
            out[t.id] = (0.0, 0, 0)
            continue
        delta_ms = (after - (first or 0)) * 1000 // _CLK_TCK if first is not None else 0
        cpu = min(100.0, round(100.0 * delta_ms / 1000 / elapsed, 2))
        out[t.id] = (cpu, int(delta_ms), int(after * 1000 // _CLK_TCK))
    return out


def thread_vo(t: PyThread, sample: dict, cls: type[ThreadVO] = ThreadVO, **extra: Any) -> Any:
    cpu, delta, total = sample.get(t.id, (0.0, 0, 0))
    return cls(
        id=t.id,
        name=t.name,
        state=thread_state(t),
        cpu=cpu,
        delta_time=delta,
        time=total,
        daemon=t.daemon,
        **extra,
    )


def thread_info(t: PyThread, depth: int = 0) -> ThreadInfo:
    return ThreadInfo(
        thread_id=t.id,
        thread_name=t.name,
        thread_state=thread_state(t),
        daemon=t.daemon,
        stack_trace=stack_of(t.frame, depth),
    )


def state_counts(states: list[str]) -> dict[str, int]:
    return {s: states.count(s) for s in THREAD_STATES}


class ThreadCommand(Command):
    name = "thread"
    summary = "Display thread info, thread stack"
    description = (
        "Python threads shown as JVM threads.\n"
        "id: the OS thread id (threading.get_native_id(), as in top -H and /proc/PID/task); "
        "a thread not started via threading shows its threading ident.\n"
        "group is always 'main' and priority 5 (Python threads have neither).\n"
        "state: RUNNABLE when on a CPU or in I/O; WAITING/TIMED_WAITING in Condition/Event "
        "wait, join or sleep(); BLOCKED on a 'with lock:' or 'lock.acquire()' line. It is read "
        "from the OS state plus the top Python frame, so C code waiting elsewhere shows RUNNABLE.\n"
        "cpu: % of one core over the sample interval (-i), from /proc/self/task/TID/stat; "
        "deltaTime: CPU ms in the interval; time: CPU ms since the thread started. "
        "interrupted is always false (Python threads cannot be interrupted).\n"
        "-b: the thread holding the lock most BLOCKED threads wait on. The lock a waiter wants "
        "is read from its 'with X:' / 'X.acquire()' line; the holder is the RLock's owner, or "
        "a thread whose stack is inside a 'with X:' block on that same object. A plain Lock "
        "taken with acquire() outside a with block has no readable owner and is not found.\n"
        "--tasks: asyncio tasks of every running event loop with their coroutine stacks."
    )
    usage = "thread [-n N] [-b] [-i ms] [--state STATE] [--all] [--tasks] [id]"
    options = (
        Option("top-n-threads", "n", "the N busiest threads with their stacks", type=positive_int),
        Option(
            "include-blocking-thread", "b", "find the thread holding a contended lock", flag=True
        ),
        Option(
            "sample-interval",
            "i",
            "CPU sampling interval in ms (default 200)",
            type=non_negative_int,
            default=200,
        ),
        Option("state", None, "only threads in this state (RUNNABLE, WAITING, ...)"),
        Option("all", None, "show every thread", flag=True),
        Option("max-depth", "d", "stack depth limit (0 = all)", type=non_negative_int, default=0),
        Option("tasks", None, "list asyncio tasks of running event loops", flag=True),
        # Arthas's web UI sends both with -b. Python locks keep no owner list to report, and -b
        # already reads what each thread holds from its stack, so they change nothing.
        Option("lockedMonitors", None, "accepted for Arthas clients; no effect", flag=True),
        Option("lockedSynchronizers", None, "accepted for Arthas clients; no effect", flag=True),
    )
    arguments = (Argument("id", "thread id (native TID)", required=False, type=int),)
    examples = ("thread", "thread 1234", "thread -n 3", "thread -b", "thread --state WAITING")

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        threads = live_threads()
        if args.tasks:
            tasks = [task for loop in running_loops() for task in loop_tasks(loop, args.max_depth)]
            ctx.emit(ThreadModel(job_id=ctx.job_id, tasks=tasks))
            return
        if args.id is not None:
            match = next((t for t in threads if t.id == args.id or t.ident == args.id), None)
            if match is None:
                raise CommandError(f"thread do not exist! id: {args.id}", 1)
            ctx.emit(ThreadModel(job_id=ctx.job_id, thread_info=thread_info(match, args.max_depth)))
            return
        if args.include_blocking_thread:
            found = most_blocking(threads)
            if found is None:
                raise CommandError("No most blocking thread found!", 1)
            holder, lock, count = found
            info = BlockingLockInfo(
                thread_info=thread_info(holder, args.max_depth),
                lock_identity_hash_code=id(lock),
                blocking_thread_count=count,
            )
            ctx.emit(ThreadModel(job_id=ctx.job_id, blocking_lock_info=info))
            return
        state = args.state.upper() if args.state else None
        if state is not None and state not in THREAD_STATES:
            raise CommandError(f"Illegal argument, state should be one of {list(THREAD_STATES)}", 1)
        sample = _cpu_sample(threads, args.sample_interval, ctx)
        threads = [t for t in live_threads() if t.id in sample]
        if args.top_n_threads is not None:
            busiest = sorted(threads, key=lambda t: -sample[t.id][0])[: args.top_n_threads]
            busy = [
                thread_vo(t, sample, BusyThreadInfo, stack_trace=stack_of(t.frame, args.max_depth))
                for t in busiest
            ]
            ctx.emit(ThreadModel(job_id=ctx.job_id, busy_threads=busy))
            return
        stats = [thread_vo(t, sample) for t in threads]
        counts = state_counts([vo.state for vo in stats])
        if state is not None:
            stats = [vo for vo in stats if vo.state == state]
        stats.sort(key=lambda vo: -vo.cpu)
        ctx.emit(
            ThreadModel(
                job_id=ctx.job_id, thread_stats=stats, thread_state_count=counts, all=bool(args.all)
            )
        )


COMMANDS = (ThreadCommand,)
