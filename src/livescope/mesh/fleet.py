"""The agents connected to a mesh, seen from a back end: who is there, and one command on many.

The exchange is the one :mod:`livescope.agent.meshlink` describes; the node registers every agent
as it connects (:mod:`livescope.mesh.agent_hook`). A :class:`Fleet` consumes a reply topic of its
own (``livescope.reply.<random>``) and names it in everything it sends, so the agents' answers
come to it alone: any number of fleet commands can run at once, on one node or on many.

Agents are found by publishing a discover to the topic's channel (or an app's) and counting the
answers against the publish's ``s``. A command goes to each agent by ``mesh.send``. While
waiting, each agent still owing an answer is probed once a second (a ``mesh.send`` of a probe,
which fails at once for a connection that is gone). For an agent whose connection is gone, a
discover goes to its app's channel once a second: when the process is back under a new client
id (it reconnected), it gets the request again there — it runs a request only once, and gives a
reply it gave already again. One gone for longer than it takes to reconnect is reported gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from livescope.agent import meshwire as wire
from livescope.mesh.api_client import MeshApi, MeshApiError, NodeUnreachable

PROBE_EVERY = 1.0
CALL_TIMEOUT = 2.0  # for the calls made while waiting, so the wait stays on time
RECONNECT_GRACE = 5.0  # an agent whose connection is gone this long is reported gone
REPLY_GRACE = 3.0  # the agent interrupts the command at the timeout, then answers
PROBE = wire.encode(wire.PROBE)

ANSWERED = "answered"
GONE = "gone"
NO_ANSWER = "no answer"


@dataclass
class AgentRecord:
    """One agent process that answered a discover: its current client id and node, and what
    its hello said."""

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
        self.reply_topic = wire.new_reply_topic(topic)
        self.agents: dict[tuple[Any, Any, Any], AgentRecord] = {}
        self._run = uuid.uuid4().hex[:12]
        self._counter = itertools.count(1)
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._discoveries: dict[str, set[tuple[Any, Any, Any]]] = {}
        self._discovered = asyncio.Event()
        self._assembler = wire.PartAssembler()
        self._loop = asyncio.get_running_loop()
        api.on_event = self._on_event

    async def open(self) -> None:
        """Connect and consume this fleet's own reply topic."""
        await self.api.connect()
        await self.api.pop([self.reply_topic])

    async def close(self) -> None:
        await self.api.close()

    def _new_id(self) -> str:
        return f"{self._run}.{next(self._counter)}"

    # -- what the reply topic brings ---------------------------------------------------------
    def _on_event(self, params: dict[str, Any]) -> None:
        data = params.get("d")
        frame = data.get("frame") if isinstance(data, dict) else None
        if not isinstance(frame, dict) or frame.get("type") != "text":
            return
        message = wire.decode(str(frame.get("data", "")))
        if message is None:
            return
        if message["kind"] == wire.HELLO and isinstance(message.get("agent"), dict):
            # An answer to one of our discovers: the connection it came from is live.
            record = self._adopt(str(params.get("c")), params.get("n"), dict(message["agent"]))
            found = self._discoveries.get(str(message.get("id")))
            if found is not None:
                found.add(record.key)
                self._discovered.set()
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

    # -- finding agents ----------------------------------------------------------------------
    async def discover(self, app: str | None = None, wait: float = 5.0) -> list[AgentRecord]:
        """The agents there (of ``app``, or all): they answer a discover published to their
        channel; ``wait`` bounds the wait for the ones the publish reached."""
        request_id = self._new_id()
        found: set[tuple[Any, Any, Any]] = set()
        self._discoveries[request_id] = found
        try:
            reached = await self._publish_discover(app, request_id)
            deadline = self._loop.time() + wait
            while len(found) < reached and self._loop.time() < deadline:
                self._discovered.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._discovered.wait(), deadline - self._loop.time())
        finally:
            del self._discoveries[request_id]
        agents = [self.agents[key] for key in found]
        return sorted(agents, key=lambda r: (r.app, str(r.info.get("host")), r.info.get("pid", 0)))

    async def _publish_discover(
        self, app: str | None, request_id: str, timeout: float = 10.0
    ) -> int:
        """Publish a discover to the agents (of ``app``, or all); how many it reached."""
        channel = self.topic if app is None else wire.app_channel(self.topic, app)
        message = wire.encode(wire.DISCOVER, id=request_id, reply=self.reply_topic)
        reply = await self.api.call("mesh.publish", {"c": channel, "d": message}, timeout)
        return int(reply["s"])

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
                await self._look_for(a for a in waiting if a.lost_since is not None)
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
        message = wire.encode(wire.REQUEST, id=ask.request_id, reply=self.reply_topic, body=body)
        if await self._tell(ask, message):
            ask.sent_to = client

    async def _check(self, ask: _Ask, body: dict[str, Any]) -> None:
        """Resend to an agent that came back under a new id; else probe its connection."""
        if ask.record.client != ask.sent_to:
            await self._send(ask, body)
        else:
            await self._tell(ask, PROBE)

    async def _tell(self, ask: _Ask, message: str) -> bool:
        """``mesh.send`` to the agent's current id, noting whether its connection is there;
        False when no node answered (the next check tries again)."""
        try:
            await self.api.call("mesh.send", {"c": ask.record.client, "d": message}, CALL_TIMEOUT)
        except MeshApiError:  # the connection is gone
            if ask.lost_since is None:
                ask.lost_since = self._loop.time()
        except NodeUnreachable:
            return False
        else:
            ask.lost_since = None
        return True

    async def _look_for(self, lost: Iterable[_Ask]) -> None:
        """Ask the apps of agents whose connection is gone who is there: one that reconnected
        answers from its new connection, and :meth:`_adopt` moves its record there."""
        for app in {ask.record.app for ask in lost}:
            with contextlib.suppress(MeshApiError, NodeUnreachable):
                await self._publish_discover(app, self._new_id(), CALL_TIMEOUT)
