"""The agent inside the target: one daemon thread, its own asyncio loop, start and stop.

The thread is a daemon so the program exits as if the agent were not there. ``stop`` (or the
``stop`` command, through :meth:`Agent.shutdown`) closes every session, removes every hook,
closes the port and ends the thread, leaving nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import time
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import livescope
from livescope.agent.options import default_options

if TYPE_CHECKING:
    from livescope.agent.server import HttpServer
    from livescope.commands.base import Command

LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
THREAD_NAME = "livescope-agent"
START_TIMEOUT = 15.0

_lock = threading.Lock()
_agent: Agent | None = None


class Agent:
    """The running agent, as commands and the API layer see it (``AgentView``)."""

    def __init__(
        self,
        host: str,
        port: int,
        password: str | None,
        *,
        username: str = "arthas",
        loopback_exempt: bool = True,
        keep_alive: bool = False,
        allow_insecure_remote: bool = False,
        mesh: str | Sequence[str] | None = None,
        app: str | None = None,
    ) -> None:
        if host not in LOCAL_HOSTS and password is None and not allow_insecure_remote:
            raise ValueError(
                f"refusing to listen on {host!r} without a password: anyone who can reach it "
                "could run code in this process; pass password=... "
                "(or allow_insecure_remote=True if the network is trusted)"
            )
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.loopback_exempt = loopback_exempt
        self.keep_alive = keep_alive
        self.pid = os.getpid()
        self.start_time = time.time()
        self.version = livescope.__version__
        self.options: dict[str, Any] = default_options()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self._server: HttpServer | None = None
        self._sessions: Any = None
        self._stopping = False
        self._stopped = threading.Event()
        self.mesh_urls = _mesh_urls(mesh)
        self.app = app
        self.mesh: Any = None  # the MeshLink, once started
        self._marker: Any = None  # the file announcing this agent to `livescope ps`

    # -- AgentView -------------------------------------------------------------------------------

    @property
    def output_dir(self) -> str:
        """Where commands write files served under /livescope-output/ (tempfile loads late)."""
        import tempfile

        return os.path.join(tempfile.gettempdir(), f"livescope-{self.pid}", "livescope-output")

    def commands(self) -> Sequence[type[Command]]:
        from livescope.commands.registry import all_commands

        return tuple(all_commands().values())

    def shutdown(self) -> None:
        """Ask the agent to shut down once the answers in flight are sent; returns at once.

        Safe from any thread, including a command's worker thread whose own result is still
        to be delivered (the ``stop`` command): the server waits for that response first.
        """
        loop = self.loop
        if loop is None or self._stopping or loop.is_closed():
            return
        self._stopping = True
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(lambda: loop.create_task(self._shutdown()))

    # -- for the API layer -------------------------------------------------------------------------

    @property
    def sessions(self) -> Any:
        """The session manager, created on first use so an idle agent does not load it."""
        if self._sessions is None:
            from livescope.agent.sessions import SessionManager

            self._sessions = SessionManager(self)
        return self._sessions

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive() and not self._stopping

    def run_coroutine(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        """Run ``coro`` on the agent's loop from another thread (e.g. a command's worker)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    # -- lifecycle ----------------------------------------------------------------------------------

    def _start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []
        self.thread = threading.Thread(
            target=self._thread_main, args=(ready, failure), name=THREAD_NAME, daemon=True
        )
        self.thread.start()
        if not ready.wait(START_TIMEOUT):
            raise RuntimeError("livescope agent did not start in time")
        if failure:
            self.thread.join(START_TIMEOUT)
            raise failure[0]

    def _thread_main(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        try:
            # imported here, inside the try: a missing h11 or wsproto must reach start()'s
            # caller as the ImportError it is, not as a start-up timeout
            from livescope.agent.auth import Authenticator
            from livescope.agent.server import HttpServer

            auth = Authenticator(self.password, self.username, self.loopback_exempt)
            self._server = HttpServer(self, auth, self.keep_alive)
            self.port = loop.run_until_complete(self._server.listen(self.host, self.port))
        except BaseException as exc:
            failure.append(exc)
            loop.close()
            self.loop = None
            ready.set()
            return
        from livescope.agent import marker

        self._marker = marker.write(self.host, self.port)
        ready.set()
        if self.mesh_urls:
            loop.create_task(self._start_mesh())
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._stopped.set()

    async def _start_mesh(self) -> None:
        try:
            from livescope.agent.meshlink import MeshLink, default_app

            self.mesh = MeshLink(self, self.mesh_urls, self.app or default_app())
            self.mesh.start()
        except Exception:
            import logging

            logging.getLogger("livescope.agent").exception("livescope: mesh link not started")

    async def _shutdown(self) -> None:
        """Sessions closed, hooks removed, server closed, then the loop ends (in that order)."""
        try:
            if self._server is not None:
                await self._server.close()
            if self.mesh is not None:
                await self.mesh.close()
            await self._close_sessions()
            _reset_instrumentation()
        except Exception:
            import logging

            logging.getLogger("livescope.agent").exception("livescope: error while shutting down")
        finally:
            from livescope.agent import marker

            marker.remove(self._marker)
            _forget(self)
            assert self.loop is not None
            self.loop.stop()

    async def _close_sessions(self) -> None:
        sessions = self._sessions
        if sessions is None:
            return
        close = getattr(sessions, "close_all", None) or getattr(sessions, "close", None)
        if close is not None:
            result = close()
            if asyncio.iscoroutine(result):
                await result

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Block until the agent thread has ended; True if it did."""
        if self.thread is None:
            return True
        self.thread.join(timeout)
        return not self.thread.is_alive()


def _reset_instrumentation() -> None:
    engine = sys.modules.get("livescope.instrument.engine")
    if engine is not None and hasattr(engine, "reset"):
        engine.reset(None)


def _mesh_urls(mesh: str | Sequence[str] | None) -> list[str]:
    """The mesh URLs to connect to: ``mesh`` (checked), else ``LIVESCOPE_MESH``; ``""`` = none."""
    if mesh is None and not os.environ.get("LIVESCOPE_MESH"):
        return []
    from livescope.agent import meshlink

    if mesh is None:
        return meshlink.from_environment() or []
    return meshlink.parse_urls(mesh) if mesh else []


def _forget(agent: Agent) -> None:
    global _agent
    with _lock:
        if _agent is agent:
            _agent = None


def start(
    host: str = "127.0.0.1", port: int = 8563, password: str | None = None, **options: Any
) -> Agent:
    """Start the agent (or return the running one). Options: ``username``, ``loopback_exempt``,
    ``keep_alive``, ``allow_insecure_remote``, ``mesh`` and ``app`` (see
    :mod:`livescope.agent.meshlink`); see :class:`Agent`."""
    global _agent
    with _lock:
        if _agent is not None and _agent.running:
            return _agent
        agent = Agent(host, port, password, **options)
        agent._start()
        _agent = agent
        return agent


def current() -> Agent | None:
    """The running agent, if any."""
    return _agent


def stop(timeout: float = 10.0) -> None:
    """Shut the agent down and wait for its thread to end (unless called from that thread)."""
    agent = _agent
    if agent is None:
        return
    agent.shutdown()
    if threading.current_thread() is not agent.thread:
        agent.wait_stopped(timeout)
