"""Sessions and their consumers: result queues, history replay, long polls and timeouts.

Everything here runs on the agent's event loop thread (jobs hand results over with
``call_soon_threadsafe``), so no locks are needed. A session fans each result out to all its
consumers; each consumer has its own bounded queue (oldest dropped) that ``pull_results`` drains
with the long-poll timing of the Arthas API. A reaper task, started lazily on the running loop,
removes idle consumers and sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import sys
import threading
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

from livescope.agent.options import DEFAULT_SESSION_TIMEOUT
from livescope.model.common import InputStatusModel, MessageModel, WelcomeModel

if TYPE_CHECKING:
    from livescope.agent.jobs import Job
    from livescope.commands.base import AgentView
    from livescope.model.base import ResultModel

QUEUE_SIZE = 50
HISTORY_SIZE = 50
PULL_WAIT = 2.0
PULL_GAP = 0.02  # a quiet gap this long ends a batch ...
PULL_BATCH_WINDOW = 0.1  # ... and so does this much time since its first result
PULL_MAX_ITEMS = 20
PULL_MAX_SIZE = 100
PULL_LOCK_WAIT = 0.5
HEALTHY_ACCESS = 1.0
WIKI = "https://arthas.aliyun.com/doc"
TUTORIALS = "https://arthas.aliyun.com/doc/arthas-tutorials.html"
UNHEALTHY_MESSAGE = "all consumers are unhealthy, current job was interrupted."
ORPHANED_MESSAGE = "all consumers timed out, a job hooking functions was interrupted."
CONSUMER_INACTIVE_MESSAGE = "consumer is inactive for a while, please refresh the page."


def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


def model_size(model: ResultModel) -> int:
    """The pull-size estimate of one item: lengths of its collection fields, at least 1."""
    size = 0
    if dataclasses.is_dataclass(model):
        for f in dataclasses.fields(model):
            value = getattr(model, f.name)
            if isinstance(value, (list, tuple, dict, set, frozenset)):
                size += len(value)
    return max(1, size)


def main_module_name() -> str:
    """What plays the part of Arthas's ``mainClass``: the ``-m`` module or the script path.

    ``python -m pkg`` runs ``pkg.__main__`` and reports ``pkg``. Without a module or a script file
    it is ``sys.argv[0]`` as it stands: ``-c``, ``-`` for a program read from standard input,
    empty for an interactive interpreter (never a path made up from the working directory).
    """
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", None)
    if isinstance(name, str) and name:
        return name[: -len(".__main__")] if name.endswith(".__main__") else name
    path = getattr(main, "__file__", None)
    if isinstance(path, str) and path and not path.startswith("<"):
        return os.path.abspath(path)
    argv = getattr(sys, "argv", None) or [""]
    return str(argv[0])


def local_time_millis(epoch: float) -> str:
    stamp = time.localtime(epoch)
    return time.strftime("%Y-%m-%d %H:%M:%S", stamp) + f".{int(epoch * 1000) % 1000:03d}"


def welcome_model(agent: AgentView) -> WelcomeModel:
    """Who and what this agent is, now: the API's welcome item and the terminal's banner."""
    return WelcomeModel(
        pid=str(agent.pid),
        time=local_time_millis(time.time()),
        version=agent.version,
        main_class=main_module_name(),
        wiki=WIKI,
        tutorials=TUTORIALS,
    )


class Consumer:
    """One reader of a session's results, with its own queue of the newest 50 items."""

    def __init__(self, consumer_id: str) -> None:
        self.consumer_id = consumer_id
        self.queue: deque[ResultModel] = deque(maxlen=QUEUE_SIZE)
        self.last_access = time.monotonic()
        self.polling = False
        self.closed = False
        self._arrived = asyncio.Event()
        self._lock = asyncio.Lock()

    def put(self, model: ResultModel) -> None:
        self.queue.append(model)
        self._arrived.set()

    @property
    def healthy(self) -> bool:
        return (
            self.polling
            or len(self.queue) < QUEUE_SIZE
            or time.monotonic() - self.last_access < HEALTHY_ACCESS
        )

    def close(self) -> None:
        self.closed = True
        self._arrived.set()

    async def _next_arrival(self, timeout: float) -> None:
        """Wait until something is queued (or the consumer closes), at most ``timeout`` s."""
        if self.queue or self.closed or timeout <= 0:
            return
        self._arrived.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), timeout)

    async def pull(self) -> list[ResultModel]:
        """Long poll: up to 2 s for a first item, then a batch.

        The batch ends at a 20 ms quiet gap or 100 ms after its first item, at 20 items or at an
        estimated size of 100, whichever comes first. Arthas waits for a 100 ms gap instead;
        the short gap keeps a lone result's delay low while a burst still comes back together.
        """
        try:
            await asyncio.wait_for(self._lock.acquire(), PULL_LOCK_WAIT)
        except asyncio.TimeoutError:
            return []
        self.polling = True
        self.last_access = time.monotonic()
        try:
            await self._next_arrival(PULL_WAIT)
            results: list[ResultModel] = []
            size = 0
            window_end = time.monotonic() + PULL_BATCH_WINDOW
            while not self.closed and len(results) < PULL_MAX_ITEMS and size < PULL_MAX_SIZE:
                if self.queue:
                    item = self.queue.popleft()
                    results.append(item)
                    size += model_size(item)
                    continue
                remaining = window_end - time.monotonic()
                if not results or remaining <= 0:
                    break
                await self._next_arrival(min(PULL_GAP, remaining))
                if not self.queue:
                    break
            return results
        finally:
            self.polling = False
            self.last_access = time.monotonic()
            self._lock.release()


class Session:
    """A user's conversation with the agent: consumers, history, the foreground job."""

    def __init__(self, manager: SessionManager, user_id: str | None, temporary: bool) -> None:
        self.manager = manager
        self.session_id = str(uuid.uuid4())
        self.user_id = user_id
        self.temporary = temporary
        self.history: list[str] = []  # command lines, for the `history` command
        self.create_time = time.time()
        self.last_access_time = self.create_time
        self.consumers: dict[str, Consumer] = {}
        self.foreground: Job | None = None
        self.jobs: set[Job] = set()
        self.executing = False  # the exec/async_exec lock
        self.closed = False
        self._consumer_seq = itertools.count(1)
        self._consumer_prefix = uuid.uuid4().hex
        self._history: deque[ResultModel] = deque(maxlen=HISTORY_SIZE)
        self._input_status: InputStatusModel | None = None
        self._unhealthy_reported = False
        self._unread = 0  # results distributed while the session had no consumer at all

    def touch(self) -> None:
        self.last_access_time = time.time()

    def add_consumer(self) -> Consumer:
        consumer = Consumer(f"{self._consumer_prefix}_{next(self._consumer_seq)}")
        self.consumers[consumer.consumer_id] = consumer
        self._unread = 0
        return consumer

    def join(self) -> Consumer:
        """A new consumer: DISABLED, the replayed history, then the latest input status."""
        consumer = self.add_consumer()
        consumer.put(InputStatusModel(input_status="DISABLED"))
        for item in self._history:
            consumer.put(item)
        if self._input_status is not None:
            consumer.put(self._input_status)
        return consumer

    def distribute(self, model: ResultModel) -> None:
        """Fan one result out to every consumer (loop thread only)."""
        if self.closed:
            return
        if isinstance(model, InputStatusModel):
            self._input_status = model
        else:
            self._history.append(model)
        if self.consumers:
            self._check_consumers()
        elif not isinstance(model, InputStatusModel):
            self._check_unread(model)
        for consumer in self.consumers.values():
            consumer.put(model)

    def _check_consumers(self) -> None:
        """The slow-consumer kill switch: nobody healthy ⇒ interrupt the foreground job, once."""
        if any(c.healthy for c in self.consumers.values()):
            self._unhealthy_reported = False
        elif not self._unhealthy_reported and self.foreground is not None:
            self._unhealthy_reported = True
            self.foreground.interrupt()
            notice = MessageModel(message=UNHEALTHY_MESSAGE)
            self._history.append(notice)
            for consumer in self.consumers.values():
                consumer.put(notice)

    def orphaned(self) -> None:
        """The reaper dropped the last consumer: nobody reads this session now. Its jobs that
        hook the target's functions end, hooks and all (other jobs go on, as in Arthas, their
        results kept for a later ``join_session``, which also reads why a job ended)."""
        for job in list(self.jobs):  # the foreground job is one of them
            if job.command_cls.ends_unattended and not job.interrupted:
                job.interrupt()
                self._history.append(MessageModel(message=ORPHANED_MESSAGE))

    def _check_unread(self, model: ResultModel) -> None:
        """The kill switch for a session without consumers (all timed out, say).

        Its history is then the only place results wait for a later ``join_session``. Once more
        of them arrived than the history keeps, results are being lost unread, so the job
        producing them (foreground or ``&``) is interrupted, as if every consumer were unhealthy.
        """
        self._unread += 1
        if self._unread <= HISTORY_SIZE:
            return
        self._unread = 0
        producer = next((j for j in self.jobs if j.job_id == model.job_id), self.foreground)
        if producer is not None and not producer.interrupted:
            producer.interrupt()
            self._history.append(MessageModel(message=UNHEALTHY_MESSAGE))

    def input_status(self, status: str) -> None:
        self.distribute(InputStatusModel(input_status=status))

    def welcome(self, agent: AgentView) -> None:
        self.distribute(MessageModel(message="Welcome to arthas!"))
        self.distribute(welcome_model(agent))
        self.input_status("ALLOW_INPUT")

    def job_ended(self, job: Job) -> None:
        self.jobs.discard(job)
        if self.foreground is job:
            self.foreground = None
            self.input_status("ALLOW_INPUT")

    def close(self) -> None:
        """Interrupt the foreground job, end every long poll, forget the consumers."""
        if self.foreground is not None:
            self.foreground.interrupt()
        self.closed = True
        for consumer in self.consumers.values():
            consumer.close()
        self.consumers.clear()


class SessionManager:
    """Every session of one agent, the global job-id counter and the idle reaper."""

    def __init__(
        self,
        agent: AgentView,
        *,
        session_timeout: float | None = None,
        consumer_timeout: float | None = None,
        reaper_interval: float | None = None,
    ) -> None:
        self.agent = agent
        self._session_timeout = session_timeout
        self.consumer_timeout = consumer_timeout or _env_seconds(
            "LIVESCOPE_CONSUMER_TIMEOUT", 300.0
        )
        self.reaper_interval = reaper_interval or _env_seconds("LIVESCOPE_REAPER_INTERVAL", 60.0)
        self.sessions: dict[str, Session] = {}
        self._job_ids = itertools.count(1)
        self._job_id_lock = threading.Lock()
        self._reaper: asyncio.Task | None = None

    @property
    def session_timeout(self) -> float:
        """Seconds of idleness after which a session goes: the ``session-timeout`` option."""
        if self._session_timeout:
            return self._session_timeout
        options: dict[str, Any] = getattr(self.agent, "options", None) or {}
        value = options.get("session-timeout")
        if isinstance(value, (int, float)) and value > 0:
            return float(value)
        return float(DEFAULT_SESSION_TIMEOUT)

    def next_job_id(self) -> int:
        with self._job_id_lock:
            return next(self._job_ids)

    def create(self, user_id: str | None = None, *, temporary: bool = False) -> Session:
        self._ensure_reaper()
        session = Session(self, user_id, temporary)
        self.sessions[session.session_id] = session
        return session

    def get(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    def remove(self, session: Session) -> None:
        self.sessions.pop(session.session_id, None)
        session.close()

    async def close_all(self) -> None:
        """Agent shutdown: close every session and stop the reaper."""
        for session in list(self.sessions.values()):
            for job in list(session.jobs):
                job.interrupt()
            self.remove(session)
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None

    def _ensure_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self.reaper_interval)
            self.reap()

    def reap(self) -> None:
        """Drop consumers idle past the consumer timeout and idle sessions with no foreground."""
        now_mono, now = time.monotonic(), time.time()
        for session in list(self.sessions.values()):
            if session.temporary:
                continue
            had_consumers = bool(session.consumers)
            for consumer in list(session.consumers.values()):
                if not consumer.polling and now_mono - consumer.last_access > self.consumer_timeout:
                    consumer.put(MessageModel(message=CONSUMER_INACTIVE_MESSAGE))
                    consumer.close()
                    session.consumers.pop(consumer.consumer_id, None)
            if had_consumers and not session.consumers:
                session.orphaned()
            idle = now - session.last_access_time
            if idle > self.session_timeout and session.foreground is None:
                minutes = int(idle // 60)
                session.distribute(
                    MessageModel(message=f"session is inactive for {minutes} min(s).")
                )
                self.remove(session)
