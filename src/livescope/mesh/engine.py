"""What a node needs from the grid: routing, fan-out, queue topics and the node registry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from livescope.mesh.hub import Hub, Message

Deliver = Callable[[dict[str, Any]], Awaitable[None]]

# A transient topic (a back end's private reply topic) is forgotten, with whatever it still
# holds, this long after it was last pushed to or consumed.
TRANSIENT_TTL = 60.0


class Consumer(Protocol):
    async def close(self) -> None: ...


class Engine(Protocol):
    """In-memory (one node) or Redis (a grid). ``start`` picks the node id."""

    node_id: int
    delivery: str  # "at-most-once" or "at-least-once", for queue topics

    async def start(self, hub: Hub, api_url: str, client_url: str) -> None: ...
    async def stop(self) -> None: ...
    async def send(self, client_id: int, message: Message) -> None: ...
    async def call(self, client_id: int, function: str, args: list[Any]) -> None: ...
    async def publish(self, channel: str, message: Message) -> tuple[int, int]: ...
    async def push(self, topic: str, item: dict[str, Any], transient: bool = False) -> None: ...
    async def consume(
        self, topics: list[str], deliver: Deliver, transient: frozenset[str] = frozenset()
    ) -> Consumer: ...
    async def nodes(self) -> list[dict[str, Any]]: ...
