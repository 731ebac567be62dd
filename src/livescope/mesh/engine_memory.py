"""The single-node engine: everything in this process, queue topics bounded and at-most-once."""

from __future__ import annotations

import collections
import logging
import time
from typing import Any

from livescope.mesh.engine import TRANSIENT_TTL, Deliver
from livescope.mesh.hub import Hub, Message
from livescope.mesh.protocol import CALL_FAILED, SEND_FAILED, MeshError
from livescope.mesh.snowflake import node_of

log = logging.getLogger(__name__)

TOPIC_CAPACITY = 2000


class _Consumer:
    def __init__(self, engine: MemoryEngine, topics: list[str], deliver: Deliver) -> None:
        self.engine = engine
        self.topics = topics
        self.deliver = deliver

    async def close(self) -> None:
        consumers = self.engine._consumers
        for topic in self.topics:
            members = consumers.get(topic, [])
            if self in members:
                members.remove(self)
            if not members:
                consumers.pop(topic, None)


class MemoryEngine:
    """Queue entries wait (up to 2,000 per topic, oldest dropped) until a consumer pops them;
    competing consumers of a topic take turns. What waits in a transient topic is dropped once
    nobody pushed to it for ``TRANSIENT_TTL`` seconds."""

    delivery = "at-most-once"

    def __init__(self, node_id: int = 1) -> None:
        self.node_id = node_id
        self.hub: Hub | None = None
        self._started = time.time()
        self._urls: dict[str, str] = {}
        self._backlog: dict[str, collections.deque[dict[str, Any]]] = {}
        self._consumers: dict[str, list[_Consumer]] = {}
        self._expiry: dict[str, float] = {}  # transient topic with a backlog -> when it goes
        self._next_sweep = 0.0

    async def start(self, hub: Hub, api_url: str, client_url: str) -> None:
        self.hub = hub
        self._urls = {"api": api_url, "client": client_url}

    async def stop(self) -> None:
        pass

    async def send(self, client_id: int, message: Message) -> None:
        if node_of(client_id) != self.node_id:
            raise MeshError(SEND_FAILED, "client belongs to an unknown node")
        assert self.hub is not None
        self.hub.send_local(client_id, message)

    async def call(self, client_id: int, function: str, args: list[Any]) -> None:
        if node_of(client_id) != self.node_id:
            raise MeshError(CALL_FAILED, "client belongs to an unknown node")
        assert self.hub is not None
        self.hub.call_local(client_id, function, args)

    async def publish(self, channel: str, message: Message) -> tuple[int, int]:
        assert self.hub is not None
        return self.hub.publish_local(channel, message)

    async def push(self, topic: str, item: dict[str, Any], transient: bool = False) -> None:
        self._sweep()
        consumers = self._consumers.get(topic)
        while consumers:
            consumer = consumers.pop(0)
            consumers.append(consumer)  # round robin between competing consumers
            try:
                await consumer.deliver(item)
                return
            except Exception:  # a consumer that went away: try the next one
                log.debug("queue consumer failed", exc_info=True)
                await consumer.close()
        backlog = self._backlog.setdefault(topic, collections.deque(maxlen=TOPIC_CAPACITY))
        backlog.append(item)
        if transient:
            self._expiry[topic] = time.monotonic() + TRANSIENT_TTL

    def _sweep(self) -> None:
        """Drop the backlogs of transient topics nobody came back for (at most once a second)."""
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + 1.0
        for topic, when in list(self._expiry.items()):
            if when <= now:
                del self._expiry[topic]
                self._backlog.pop(topic, None)

    async def consume(
        self, topics: list[str], deliver: Deliver, transient: frozenset[str] = frozenset()
    ) -> _Consumer:
        consumer = _Consumer(self, topics, deliver)
        for topic in topics:
            self._consumers.setdefault(topic, []).append(consumer)
        for topic in topics:
            self._expiry.pop(topic, None)
            backlog = self._backlog.pop(topic, None)
            while backlog:
                await deliver(backlog.popleft())
        return consumer

    async def nodes(self) -> list[dict[str, Any]]:
        assert self.hub is not None
        return [
            {
                "id": self.node_id,
                **self._urls,
                "clients": len(self.hub.clients),
                "started": self._started,
            }
        ]
