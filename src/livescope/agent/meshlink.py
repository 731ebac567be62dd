"""The agent as a mesh client: a fleet of processes diagnosed through one gateway.

Started by ``livescope.start(mesh="ws://host:6790/livescope", app="checkout")``, by ``livescope
attach PID --mesh URL [--app NAME]``, or by ``livescope.start()`` with ``LIVESCOPE_MESH`` (and
``LIVESCOPE_APP``) in the environment. The link is a WebSocket client (wsproto) on the agent's
own loop and thread: it never blocks the program, reconnects with backoff when the node goes
away, and ``livescope.stop()`` closes it.

A node registers an agent by itself (:mod:`livescope.mesh.agent_hook`, the default hook on
agents' paths such as ``/livescope``); any back end may do it instead where a node lacks that
(an older node, a path that is not an agents' path, or a ``--hooks`` file of one's own), since
the exchange needs no more than spec/004's default hook: a client's frames are pushed as
``{"frame": {...}}`` to the queue topic of its path, stamped with its client id ``c``. Every
message is a JSON text message marked ``"livescope": 1`` (shapes in
:mod:`livescope.agent.meshwire`); TOPIC is the topic of the agent's path (``/livescope`` ->
``livescope``)::

    agent -> node
      {"livescope":1, "kind":"hello", "agent":INFO}
          on connecting, and again after 5, 10, 20 ... 300 s until welcomed. The node's agent
          hook registers the connection (below) and sends the welcome; the hello goes to no
          queue. Without that hook it goes to TOPIC, for a back end to register the agent.
      {"livescope":1, "kind":"hello", "id":ID, "to":REPLY_TOPIC, "agent":INFO}
          the answer to a discover ("to" only when the discover named a reply topic)
      {"livescope":1, "kind":"reply", "id":ID, "client":C, "to":REPLY_TOPIC, "body":REPLY}
          the answer to request ID ("to" as above); a reply over 128 KiB comes as parts
          {"livescope":1, "kind":"reply", "id":ID, "client":C, "to":..., "part":[i, n],
           "data":SLICE} whose slices, joined, are REPLY's JSON text
      The agent hook pushes an answer to REPLY_TOPIC when it is one of TOPIC's reply topics
      (``TOPIC.reply.<anything>``), else to TOPIC, as spec/004's default hook does anyway.

    back end (or the node) -> agent, by mesh.send to its client id or mesh.publish
      {"livescope":1, "kind":"welcome", "client":C}
          once the connection is registered: conn.call set_context [INFO] and conn.call
          subscribe [TOPIC, "TOPIC.app.APP"]
      {"livescope":1, "kind":"discover", "id":ID, "reply":REPLY_TOPIC}
          published to TOPIC or TOPIC.app.APP; every agent reached answers with a hello
      {"livescope":1, "kind":"request", "id":ID, "reply":REPLY_TOPIC, "body":API}
          API is any body ``POST /api`` takes; it runs through the same API handler (and the
          same sessions) as HTTP requests. A request id seen before is not run again: its
          reply, if given already, is sent again (a back end resends after a reconnect).
      {"livescope":1, "kind":"probe"}
          sent to learn whether a connection is still there (mesh.send fails at once for one
          that is gone); the agent ignores it

    INFO = {"app", "host", "pid", "python", "version", "api", "started"}
    REPLY_TOPIC = "TOPIC.reply.<random>": a queue topic that one back-end command pops, so
    answers reach the command that asked and no other. "reply" is optional: without it the
    answers carry no "to" and go to TOPIC.

Anything else (other kinds, non-JSON text) is ignored. The agent trusts whoever can drive it
through the node, exactly as it trusts ``POST /api`` callers: protect the node's API with
``--token`` (end-user clients cannot reach an agent: under the default hooks their frames go
to queue topics only, and the agent hook lets a client of the agents' path push only to that
path's own topics). A reply finished while the link is down waits (bounded) and is sent after
the reconnect, under the new client id, to the reply topic its request named.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import os
import platform
import random
import socket
import sys
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any

import livescope
from livescope.agent import meshwire as wire
from livescope.agent.wsclient import ClientWebSocket, WebSocketError, check_url

if TYPE_CHECKING:
    from livescope.agent.runtime import Agent

log = logging.getLogger("livescope.agent.mesh")

ENV_MESH = "LIVESCOPE_MESH"
ENV_APP = "LIVESCOPE_APP"
CONNECT_TIMEOUT = 5.0
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 10.0
STABLE_SECONDS = 10.0  # a link that lived this long resets the backoff
PING_EVERY = 15.0  # a node drops clients silent for 60 s
SILENT_LIMIT = 45.0  # nothing heard (not even a pong) this long: the link is dead
HELLO_REPEAT = (5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0)
MAX_IN_FLIGHT = 16
OUTBOX_BYTES = 8 * 1024 * 1024
REMEMBERED_IDS = 1024
ANSWERS_BYTES = 4 * 1024 * 1024  # recent replies kept to answer a resent request again
CLOSE_GRACE = 2.0
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})


def parse_urls(mesh: str | Sequence[str]) -> list[str]:
    """One URL, several separated by commas, or a list; ValueError names a bad one."""
    items = mesh.split(",") if isinstance(mesh, str) else list(mesh)
    urls = [url.strip() for url in items if url and url.strip()]
    if not urls:
        raise ValueError("mesh needs at least one ws:// or wss:// URL")
    for url in urls:
        check_url(url)
    return urls


def default_app() -> str:
    """``LIVESCOPE_APP``, else the program's name (``checkout.py`` -> ``checkout``)."""
    name = os.environ.get(ENV_APP, "").strip()
    if name:
        return name
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return os.path.splitext(program)[0] or "python"


def from_environment() -> list[str] | None:
    """The URLs in ``LIVESCOPE_MESH``, if set; a bad value is logged and ignored, since the
    program did not ask for it and must not fail because of it."""
    value = os.environ.get(ENV_MESH, "").strip()
    if not value:
        return None
    try:
        return parse_urls(value)
    except ValueError as exc:
        log.warning("livescope: ignoring %s: %s", ENV_MESH, exc)
        return None


def agent_info(agent: Agent, app: str) -> dict[str, Any]:
    host = socket.gethostname()
    api_host = host if agent.host in WILDCARD_HOSTS else agent.host
    if ":" in api_host:
        api_host = f"[{api_host}]"
    return {
        "app": app,
        "host": host,
        "pid": agent.pid,
        "python": platform.python_version(),
        "version": livescope.__version__,
        "api": f"http://{api_host}:{agent.port}",
        "started": agent.start_time,
    }


class MeshLink:
    """The agent's connection to a mesh: hello, requests in, replies out, reconnects."""

    def __init__(self, agent: Agent, urls: Sequence[str], app: str) -> None:
        self.agent = agent
        self.urls = list(urls)
        self.app = app
        self.info = agent_info(agent, app)
        self.client_id: str | None = None
        self.welcomed = False
        self._ws: ClientWebSocket | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._handler: Any = None
        self._requests: set[asyncio.Task[None]] = set()
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._answers: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._answers_bytes = 0
        # (request id, the reply topic its request named, the reply's JSON text)
        self._outbox: collections.deque[tuple[str, str | None, str]] = collections.deque()
        self._outbox_bytes = 0
        self._flushing = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    def start(self) -> None:
        """Begin connecting (on the agent's running loop); returns at once."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Let replies in flight go out (briefly), then close the connection for good."""
        self._closing.set()
        if self._requests:
            await asyncio.wait(list(self._requests), timeout=CLOSE_GRACE)
        for task in list(self._requests):
            task.cancel()
        ws = self._ws
        if ws is not None:
            await ws.close(1000, "agent stopped")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    # -- the connection loop ------------------------------------------------------------------
    async def _run(self) -> None:
        delay = BACKOFF_FIRST
        attempt = 0
        quiet = False  # a link that keeps failing is reported once, not at every retry
        loop = asyncio.get_running_loop()
        while not self._closing.is_set():
            url = self.urls[attempt % len(self.urls)]
            attempt += 1
            began = loop.time()
            try:
                ws = await ClientWebSocket.connect(url, CONNECT_TIMEOUT)
            except WebSocketError as exc:
                level = logging.WARNING if attempt == 1 else logging.DEBUG
                log.log(level, "livescope: mesh %s unreachable (%s); retrying", url, exc)
            else:
                log.info("livescope: connected to mesh %s", url)
                try:
                    await self._serve(ws)
                except WebSocketError:
                    pass
                except Exception:  # a bug here must not end the link, nor reach the program
                    log.exception("livescope: mesh link failed")
                finally:
                    self._ws = None
                    await ws.close(1000, "")
                if self._closing.is_set():
                    return
                if loop.time() - began >= STABLE_SECONDS:
                    delay, quiet = BACKOFF_FIRST, False
                log.log(logging.DEBUG if quiet else logging.WARNING, "livescope: lost mesh %s", url)
                quiet = True
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay * random.uniform(0.75, 1.25))
            delay = min(delay * 2, BACKOFF_MAX)

    async def _serve(self, ws: ClientWebSocket) -> None:
        self._ws = ws
        self.client_id = None
        self.welcomed = False
        await ws.send_text(wire.encode(wire.HELLO, agent=self.info))
        helpers = [
            asyncio.ensure_future(self._keep_alive(ws)),
            asyncio.ensure_future(self._repeat_hello(ws)),
            asyncio.ensure_future(self._flush()),
        ]
        try:
            while True:
                text = await ws.receive()
                if text is None:
                    return
                message = wire.decode(text)
                if message is not None:
                    await self._on_message(ws, message)
        finally:
            for task in helpers:
                task.cancel()

    async def _keep_alive(self, ws: ClientWebSocket) -> None:
        loop = asyncio.get_running_loop()
        while not ws.closed:
            await asyncio.sleep(PING_EVERY)
            if loop.time() - ws.last_received > SILENT_LIMIT:
                await ws.close(1001, "node silent")
                return
            with contextlib.suppress(WebSocketError):
                await ws.ping()

    async def _repeat_hello(self, ws: ClientWebSocket) -> None:
        """A node that registers agents welcomes at once; where a back end has to read the
        hello from a queue, it may read it and die: say it again, ever more slowly, until
        welcomed."""
        for delay in itertools.chain(HELLO_REPEAT, itertools.repeat(HELLO_REPEAT[-1])):
            await asyncio.sleep(delay)
            if self.welcomed or ws.closed:
                return
            with contextlib.suppress(WebSocketError):
                await ws.send_text(wire.encode(wire.HELLO, agent=self.info))

    # -- incoming -----------------------------------------------------------------------------
    async def _on_message(self, ws: ClientWebSocket, message: dict[str, Any]) -> None:
        kind = message["kind"]
        if kind == wire.WELCOME:
            client = message.get("client")
            self.client_id = str(client) if client is not None else None
            self.welcomed = True
        elif kind == wire.DISCOVER:
            answer: dict[str, Any] = {"id": message.get("id"), "agent": self.info}
            to = wire.named_reply_topic(message)
            if to is not None:
                answer["to"] = to
            with contextlib.suppress(WebSocketError):
                await ws.send_text(wire.encode(wire.HELLO, **answer))
        elif kind == wire.REQUEST:
            self._accept(message)

    def _accept(self, message: dict[str, Any]) -> None:
        request_id = str(message.get("id"))
        to = wire.named_reply_topic(message)
        if request_id in self._seen:
            # A back end resent it after a reconnect: it runs once, and a reply already given
            # (perhaps lost with a node) is given again; one still running comes when done.
            answer = self._answers.get(request_id)
            if answer is not None:
                self._queue_text(request_id, to, answer)
                self._spawn(self._flush())
            return
        self._seen[request_id] = None
        while len(self._seen) > REMEMBERED_IDS:
            self._seen.popitem(last=False)
        if len(self._requests) >= MAX_IN_FLIGHT:
            busy = {"state": "REFUSED", "message": f"{MAX_IN_FLIGHT} mesh requests are running"}
            self._queue_reply(request_id, to, busy)
            return
        self._spawn(self._answer(request_id, to, message.get("body")))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    async def _answer(self, request_id: str, to: str | None, body: Any) -> None:
        if not isinstance(body, dict):
            reply = {"state": "FAILED", "message": "a mesh request needs an API body (object)"}
        else:
            try:
                reply = await self._api().handle(json.dumps(body).encode(), "mesh", None)
            except Exception as exc:  # handle() answers every error itself; this is a bug
                log.exception("livescope: mesh request failed")
                reply = {"state": "FAILED", "message": f"process mesh request failed: {exc}"}
        self._queue_reply(request_id, to, reply)
        await self._flush()

    def _api(self) -> Any:
        if self._handler is None:
            from livescope.agent.api import ApiHandler

            self._handler = ApiHandler(self.agent)
        return self._handler

    # -- outgoing -----------------------------------------------------------------------------
    def _queue_reply(self, request_id: str, to: str | None, reply: dict[str, Any]) -> None:
        text = wire.body_text(reply)
        self._answers[request_id] = text
        self._answers_bytes += len(text)
        while self._answers_bytes > ANSWERS_BYTES and len(self._answers) > 1:
            _, forgotten = self._answers.popitem(last=False)
            self._answers_bytes -= len(forgotten)
        self._queue_text(request_id, to, text)

    def _queue_text(self, request_id: str, to: str | None, text: str) -> None:
        self._outbox.append((request_id, to, text))
        self._outbox_bytes += len(text)
        while self._outbox_bytes > OUTBOX_BYTES and len(self._outbox) > 1:
            _, _, dropped = self._outbox.popleft()  # the oldest waited longest: its asker gave up
            self._outbox_bytes -= len(dropped)

    async def _flush(self) -> None:
        """Send the waiting replies in order; whatever cannot be sent waits for the next link."""
        async with self._flushing:
            while self._outbox:
                ws = self._ws
                if ws is None or ws.closed:
                    return
                request_id, to, text = self._outbox[0]
                try:
                    for message in wire.reply_messages(request_id, self.client_id, text, to):
                        await ws.send_text(message)
                except WebSocketError:
                    return
                if self._outbox and self._outbox[0][0] == request_id:
                    self._outbox.popleft()
                    self._outbox_bytes -= len(text)
