"""The agents connected to a mesh, seen from a back end: who is there, and one command on many.

The exchange is the one :mod:`livescope.agent.meshlink` describes. A :class:`Fleet` consumes the
agents' queue topic; every agent whose hello it reads it registers (``set_context`` with the
agent's description, ``subscribe`` to the topic's channel and the app's channel, then a
welcome), so any back end — this one or the next — can find agents by publishing a discover
and counting the answers against the publish's ``s``.

A command goes to each agent by ``mesh.send`` and its reply comes back through the topic. While
waiting, each agent still owing an answer is probed once a second (a ``conn.call`` that fails
at once for a connection that is gone); an agent gone for longer than it takes to reconnect is
reported gone, and one that reconnects (a new hello from the same process) gets the request
again under its new client id — it runs the request only once.

Replies travel through a queue topic, so two fleet commands on the same topic at the same time
compete for them (a queue entry goes to one consumer): run one at a time per topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from livescope.agent import meshwire as wire
from livescope.mesh.api_client import MeshApi, MeshApiError, NodeUnreachable

SETTLE_QUIET = 0.3  # the topic's backlog is read once it has been quiet this long...
SETTLE_LIMIT = 2.0  # ...or after this long at most
PROBE_EVERY = 1.0
CALL_TIMEOUT = 2.0  # for the calls made while waiting, so the wait stays on time
RECONNECT_GRACE = 5.0  # an agent whose connection is gone this long is reported gone
REPLY_GRACE = 3.0  # the agent interrupts the command at the timeout, then answers

ANSWERED = "answered"
GONE = "gone"
NO_ANSWER = "no answer"


@dataclass
class AgentRecord:
    """One agent process that is there (registered, or it answered a discover): its current
    client id and node, and what its hello said."""

    client: str
    node: Any
    info: dict[str, Any]

    @property
    def key(self) -> tuple[Any, Any, Any]:
        """The process, across reconnects (which change the client id)."""
        return (self.info.get("host"), self.info.get("pid"), self.info.get("started"))

    @property
    def app(self) -> str:
        return str(self.info.get("app", ""))

    def as_dict(self) -> dict[str, Any]:
        return {"agent": self.client, "node": self.node, **self.info}


@dataclass
class Outcome:
    agent: AgentRecord
    state: str  # ANSWERED, GONE or NO_ANSWER
    reply: dict[str, Any] | None = None
    seconds: float = 0.0
    detail: str = ""


@dataclass
class _Ask:
    record: AgentRecord
    request_id: str
    future: asyncio.Future[dict[str, Any]]
    sent_to: str | None = None
    lost_since: float | None = None


class Fleet:
    def __init__(self, api: MeshApi, topic: str = wire.DEFAULT_TOPIC) -> None:
        self.api = api
        self.topic = topic
        self.agents: dict[tuple[Any, Any, Any], AgentRecord] = {}
        self._run = uuid.uuid4().hex[:12]
        self._counter = itertools.count(1)
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._discoveries: dict[str, set[tuple[Any, Any, Any]]] = {}
        self._discovered = asyncio.Event()
        self._assembler = wire.PartAssembler()
        self._registered: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.get_running_loop()
        self._last_event = 0.0
        api.on_event = self._on_event

    async def open(self) -> None:
        """Connect, consume the agents' topic and register the agents whose hello waits there."""
        await self.api.connect()
        await self.api.pop([self.topic])
        began = self._loop.time()
        while self._loop.time() - began < SETTLE_LIMIT:
            quiet = self._loop.time() - max(self._last_event, began)
            if quiet >= SETTLE_QUIET and not self._tasks:
                break
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.api.close()

    def _new_id(self) -> str:
        return f"{self._run}.{next(self._counter)}"

    # -- what the topic brings ---------------------------------------------------------------
    def _on_event(self, params: dict[str, Any]) -> None:
        self._last_event = self._loop.time()
        data = params.get("d")
        frame = data.get("frame") if isinstance(data, dict) else None
        if not isinstance(frame, dict) or frame.get("type") != "text":
            return
        message = wire.decode(str(frame.get("data", "")))
        if message is None:
            return
        client = str(params.get("c"))
        if message["kind"] == wire.HELLO and isinstance(message.get("agent"), dict):
            info = dict(message["agent"])
            found = self._discoveries.get(str(message.get("id")))
            if found is not None:  # an answer to a discover: it is subscribed already
                found.add(self._adopt(client, params.get("n"), info).key)
                self._discovered.set()
            elif client not in self._registered:
                self._registered.add(client)
                self._spawn(self._register(client, params.get("n"), info))
        elif message["kind"] == wire.REPLY:
            body = self._assembler.feed(message)
            future = self._replies.get(str(message.get("id")))
            if body is not None and future is not None and not future.done():
                future.set_result(body)

    def _adopt(self, client: str, node: Any, info: dict[str, Any]) -> AgentRecord:
        """``client`` is live: the record of its process, which now goes by that id."""
        record = AgentRecord(client, node, info)
        known = self.agents.setdefault(record.key, record)
        known.client, known.node, known.info = client, node, info
        return known

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _register(self, client: str, node: Any, info: dict[str, Any]) -> None:
        channels = [self.topic, wire.app_channel(self.topic, str(info.get("app", "")))]
        try:
            await self.api.call("conn.call", {"c": client, "f": "set_context", "a": [info]})
            await self.api.call("conn.call", {"c": client, "f": "subscribe", "a": channels})
            welcome = wire.encode(wire.WELCOME, client=client)
            await self.api.call("mesh.send", {"c": client, "d": welcome})
        except MeshApiError:
            return  # a hello from a connection that is gone since
        except NodeUnreachable:
            self._registered.discard(client)  # its next hello tries again
            return
        self._adopt(client, node, info)

    # -- finding agents ----------------------------------------------------------------------
    async def discover(self, app: str | None = None, wait: float = 5.0) -> list[AgentRecord]:
        """The agents there (of ``app``, or all): they answer a discover published to their
        channel; ``wait`` bounds the wait for the ones the publish reached."""
        channel = self.topic if app is None else wire.app_channel(self.topic, app)
        request_id = self._new_id()
        found: set[tuple[Any, Any, Any]] = set()
        self._discoveries[request_id] = found
        try:
            message = wire.encode(wire.DISCOVER, id=request_id)
            reached = int((await self.api.call("mesh.publish", {"c": channel, "d": message}))["s"])
            deadline = self._loop.time() + wait
            while len(found) < reached and self._loop.time() < deadline:
                self._discovered.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._discovered.wait(), deadline - self._loop.time())
        finally:
            del self._discoveries[request_id]
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=wait)
        agents = [r for r in self.agents.values() if app in (None, r.app)]
        return sorted(agents, key=lambda r: (r.app, str(r.info.get("host")), r.info.get("pid", 0)))

    # -- running a command -------------------------------------------------------------------
    async def run(
        self, agents: Iterable[AgentRecord], body: dict[str, Any], timeout: float
    ) -> list[Outcome]:
        """Send the API ``body`` to every agent and gather the replies (see the module doc)."""
        began = self._loop.time()
        deadline = began + timeout + REPLY_GRACE
        asks: list[_Ask] = []
        for record in agents:
            request_id = self._new_id()
            future: asyncio.Future[dict[str, Any]] = self._loop.create_future()
            self._replies[request_id] = future
            asks.append(_Ask(record, request_id, future))
        outcomes: dict[str, Outcome] = {}
        try:
            await asyncio.gather(*(self._send(ask, body) for ask in asks))
            while len(outcomes) < len(asks) and self._loop.time() < deadline:
                waiting = [a for a in asks if a.request_id not in outcomes]
                left = deadline - self._loop.time()
                await asyncio.wait([a.future for a in waiting], timeout=min(PROBE_EVERY, left))
                now = self._loop.time()
                for ask in waiting:
                    if ask.future.done():
                        reply = ask.future.result()
                        outcomes[ask.request_id] = Outcome(ask.record, ANSWERED, reply, now - began)
                    elif ask.lost_since is not None and now - ask.lost_since >= RECONNECT_GRACE:
                        detail = "disconnected and did not come back"
                        outcomes[ask.request_id] = Outcome(
                            ask.record, GONE, None, now - began, detail
                        )
                waiting = [a for a in asks if a.request_id not in outcomes]
                await asyncio.gather(*(self._check(ask, body) for ask in waiting))
        finally:
            for ask in asks:
                self._replies.pop(ask.request_id, None)
        for ask in asks:
            if ask.request_id not in outcomes:
                detail = f"no answer within {timeout:g}s"
                outcomes[ask.request_id] = Outcome(ask.record, NO_ANSWER, None, timeout, detail)
        return [outcomes[ask.request_id] for ask in asks]

    async def _send(self, ask: _Ask, body: dict[str, Any]) -> None:
        client = ask.record.client
        message = wire.encode(wire.REQUEST, id=ask.request_id, body=body)
        try:
            await self.api.call("mesh.send", {"c": client, "d": message}, CALL_TIMEOUT)
        except MeshApiError:
            ask.lost_since = ask.lost_since or self._loop.time()
        except NodeUnreachable:
            return  # not sent: tried again at the next check
        ask.sent_to = client

    async def _check(self, ask: _Ask, body: dict[str, Any]) -> None:
        """Resend to an agent that came back under a new id; note one whose connection is gone."""
        if ask.record.client != ask.sent_to:
            await self._send(ask, body)
            return
        try:
            args = ["livescope.probe", self._loop.time()]
            await self.api.call(
                "conn.call",
                {"c": ask.record.client, "f": "set_context_value", "a": args},
                CALL_TIMEOUT,
            )
        except MeshApiError:
            ask.lost_since = ask.lost_since or self._loop.time()
            return
        except NodeUnreachable:
            return
        ask.lost_since = None
