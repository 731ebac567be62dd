"""Jobs: one command line running in its own worker thread, reporting to the agent's loop.

A job is the :class:`~livescope.commands.base.CommandContext` its command sees. The command runs
in a daemon thread named ``livescope-job-N``; everything it emits (from that thread or from hook
threads) goes into a hand-off queue of 10 slots that the event loop drains (woken with
``call_soon_threadsafe``) into the job's *sink*: the session's consumers, or an ``exec`` response
buffer. Exactly one ``status`` item ends every job, and nothing is delivered after it.

The hand-off is bounded, as Arthas's distributor queue is, so a job that produces faster than the
loop distributes cannot grow memory without limit: an emit waits for a free slot, and if the queue
stays full for 100 ms (the loop is stuck) the oldest pending item is dropped, the new one is lost
and the job is interrupted with a ``message`` saying so. An emit never waits once the job has been
interrupted, and never on the loop thread itself (which is the one that would free the slot).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from livescope.commands import registry
from livescope.commands.base import AgentView, Command, CommandError
from livescope.commands.cmdline import CommandLine, parse_command_line
from livescope.commands.spec import ARGUMENT_ERROR, ArgumentError, parse_args
from livescope.model.common import MessageModel, StatusModel

if TYPE_CHECKING:
    from livescope.agent.sessions import Session
    from livescope.model.base import ResultModel

READY = "READY"
RUNNING = "RUNNING"
STOPPED = "STOPPED"
TERMINATED = "TERMINATED"

Sink = Callable[["ResultModel"], None]

HANDOFF_SLOTS = 10
HANDOFF_WAIT = 0.1
HANDOFF_FULL_MESSAGE = f"result queue is full: {HANDOFF_SLOTS}, current job was interrupted."


class JobCreationError(Exception):
    """The command line could not become a job (bad tokens, unknown command)."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: Any, default: float = 86400.0) -> float:
    """``"1d"``, ``"30m"``, ``"90"`` → seconds; anything unreadable → ``default``."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text) if text > 0 else default
    match = _DURATION.match(str(text or ""))
    if not match:
        return default
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    return seconds if seconds > 0 else default


def parse_line(text: str) -> CommandLine:
    """Tokenise; a tokenizer error becomes a :class:`JobCreationError`."""
    try:
        return parse_command_line(text)
    except ValueError as exc:
        raise JobCreationError(f"{type(exc).__name__}: {exc}") from exc


def lookup(name: str) -> type[Command]:
    cls = registry.find_command(name)
    if cls is None:
        raise JobCreationError(f"ValueError: {name}: command not found")
    return cls


class Job:
    """One running command; implements ``CommandContext`` for it. Loop-side methods say so."""

    def __init__(
        self,
        job_id: int,
        session: Session,
        agent: AgentView,
        line: CommandLine,
        command_cls: type[Command],
        sink: Sink,
        loop: asyncio.AbstractEventLoop,
        on_end: Callable[[Job], None] | None = None,
    ) -> None:
        self.job_id = job_id
        self.session = session
        self.agent = agent
        self.line = line
        self.command_cls = command_cls
        self.background = line.background
        self.status = READY
        self._sink = sink
        self._loop = loop
        self._on_end = on_end
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)  # notified when the loop takes the pending
        self._pending: deque[ResultModel] = deque()
        self._closed = False  # no more emits accepted (the status item is queued)
        self._interrupted = False
        self._callbacks: list[Callable[[], None]] = []
        self._callbacks_run = False
        self._timer: asyncio.TimerHandle | None = None
        self.done = asyncio.Event()

    # --- CommandContext -------------------------------------------------------------------
    def emit(self, model: ResultModel) -> None:
        """Queue one result for the loop; dropped once the job has ended."""
        model.job_id = self.job_id
        self._push(model)

    @property
    def interrupted(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._stop.wait(timeout)

    def finish(self) -> None:
        self._stop.set()

    def on_stop(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if not self._callbacks_run:
                self._callbacks.append(callback)
                return
        _call_quietly(callback)

    # --- loop side ------------------------------------------------------------------------
    def start(self) -> None:
        """Loop side: start the worker thread and the global job-timeout timer."""
        self.status = RUNNING
        limit = parse_duration(self.agent.options.get("job-timeout", "1d"))
        self._timer = self._loop.call_later(limit, self.interrupt)
        thread = threading.Thread(
            target=self._run, name=f"livescope-job-{self.job_id}", daemon=True
        )
        thread.start()

    def interrupt(self) -> None:
        """Ask the command to stop (interrupt_job, exec timeout, closed session, job timeout)."""
        self._interrupted = True
        self._stop.set()

    async def wait_done(self, timeout: float) -> bool:
        """Loop side: wait up to ``timeout`` seconds for the job to end; True if it ended."""
        try:
            await asyncio.wait_for(self.done.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    # --- worker thread --------------------------------------------------------------------
    def _run(self) -> None:
        status = StatusModel(job_id=self.job_id)
        try:
            self._execute()
        except ArgumentError as exc:
            status.status_code, status.message = ARGUMENT_ERROR, str(exc)
        except CommandError as exc:
            status.status_code, status.message = exc.status_code, exc.message
        except Exception as exc:  # a command bug must end its job, never the agent
            status.status_code, status.message = 1, f"{type(exc).__name__}: {exc}"
        finally:
            self._stop.set()
            self._run_callbacks()
            with self._lock:
                self._pending.append(status)
                self._closed = True
                self._room.notify_all()  # hook threads waiting for room give up at once
            self._post(self._ended)

    def _execute(self) -> None:
        cls = self.command_cls
        args = parse_args(cls.options, cls.arguments, self.line.args)
        if args.get("help"):
            helper = registry.find_command("help")
            if helper is not None and helper is not cls:
                helper().run(self, parse_args(helper.options, helper.arguments, [cls.name]))
                return
        cls().run(self, args)

    def _run_callbacks(self) -> None:
        with self._lock:
            callbacks, self._callbacks, self._callbacks_run = self._callbacks, [], True
        for callback in callbacks:
            _call_quietly(callback)

    def _push(self, model: ResultModel) -> None:
        with self._lock:
            if self._closed:
                return
            if len(self._pending) >= HANDOFF_SLOTS and not self._wait_for_room():
                self._overflow()
                return
            first = not self._pending
            self._pending.append(model)
        if first:
            self._post(self._drain)

    def _wait_for_room(self) -> bool:
        """With the lock held and the queue full: wait up to 100 ms for the loop to drain it."""
        if self._stop.is_set() or self._on_loop_thread():
            return False
        deadline = time.monotonic() + HANDOFF_WAIT
        while len(self._pending) >= HANDOFF_SLOTS and not self._closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._room.wait(remaining)
        return not self._closed

    def _overflow(self) -> None:
        """With the lock held: the new item is lost; if the job was still running, the oldest
        pending item gives way to a notice and the job is interrupted."""
        if self._closed or self._stop.is_set():
            return
        self._pending.popleft()
        self._pending.append(MessageModel(message=HANDOFF_FULL_MESSAGE))
        self.interrupt()

    def _on_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def _post(self, callback: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):  # loop closed: the agent is gone
            self._loop.call_soon_threadsafe(callback)

    # --- loop side again ------------------------------------------------------------------
    def _drain(self) -> None:
        with self._lock:
            taken, self._pending = self._pending, deque()
            self._room.notify_all()
        for model in taken:
            self._sink(model)

    def _ended(self) -> None:
        self._drain()
        if self._timer is not None:
            self._timer.cancel()
        self.status = TERMINATED
        self.done.set()
        if self._on_end is not None:
            self._on_end(self)


def _call_quietly(callback: Callable[[], None]) -> None:
    with contextlib.suppress(Exception):  # cleanup must not stop other cleanups
        callback()


__all__ = [
    "READY",
    "RUNNING",
    "STOPPED",
    "TERMINATED",
    "Job",
    "JobCreationError",
    "lookup",
    "parse_duration",
    "parse_line",
]
