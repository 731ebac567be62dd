"""The end-user connections one node holds, their channels and their outbound queues.

Delivery never awaits a socket: a message is appended to the connection's queue and a writer
task drains it. A connection whose unsent bytes exceed its budget is disconnected, so one slow
reader never stalls a publish to everyone else.
"""

from __future__ import annotations

import asyncio
import base64
import collections
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from livescope.mesh.protocol import CALL_FAILED, SEND_FAILED, MeshError

Message = str | bytes


class ClientConn:
    """One end-user WebSocket connection, as hooks and the API see it."""

    def __init__(
        self,
        hub: Hub,
        client_id: int,
        path: str,
        ws: web.WebSocketResponse,
        budget: int,
        headers: dict[str, str],
    ) -> None:
        self.hub = hub
        self.id = client_id
        self.path = path
        self.headers = headers
        self.context: dict[str, Any] = {}
        self.channels: set[str] = set()
        self.closed = False
        self._ws = ws
        self._budget = budget
        self._pending = 0
        self._queue: collections.deque[Message] = collections.deque()
        self._wake = asyncio.Event()
        self._context_changed = asyncio.Event()
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    # -- outbound ---------------------------------------------------------------------------
    def deliver(self, message: Message) -> bool:
        """Queue ``message``; False (and the client is dropped) when it is over its budget."""
        if self.closed:
            return False
        size = len(message)
        if self._pending + size > self._budget:
            self.hub.metrics.slow_disconnects += 1
            self.close(code=1008, reason="outbound budget exceeded")
            return False
        self._pending += size
        self._queue.append(message)
        self._wake.set()
        return True

    async def _write_loop(self) -> None:
        try:
            while not self.closed:
                await self._wake.wait()
                self._wake.clear()
                while self._queue and not self.closed:
                    message = self._queue.popleft()
                    if isinstance(message, str):
                        await self._ws.send_str(message)
                    else:
                        await self._ws.send_bytes(message)
                    self._pending -= len(message)
                    self.hub.metrics.messages_out += 1
        except (ConnectionError, RuntimeError):
            self.close()

    def send(self, data: Message) -> bool:
        """Send a message to this client (for hooks)."""
        return self.deliver(data)

    def abandon(self) -> None:
        """Drop a connection that was refused before its handshake completed."""
        self.closed = True
        self._wake.set()

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        self._queue.clear()
        self._wake.set()
        self.hub.remove(self)  # unreachable at once, even while the close handshake lingers
        asyncio.get_running_loop().create_task(self._ws.close(code=code, message=reason.encode()))

    # -- context ----------------------------------------------------------------------------
    def set_context_value(self, key: str, value: Any) -> None:
        self.context[key] = value
        self._context_changed.set()
        self._context_changed = asyncio.Event()

    def set_context(self, values: dict[str, Any]) -> None:
        self.context.update(values)
        self._context_changed.set()
        self._context_changed = asyncio.Event()

    async def wait_context_value(self, key: str, timeout: float | None = None) -> Any:
        """Hold this connection's messages until the back end sets context ``key``.

        Hooks run one message at a time per connection, so awaiting this inside
        ``on_message`` holds every later message too (back-end-driven login).
        """

        async def wait() -> Any:
            while key not in self.context:
                await self._context_changed.wait()
            return self.context[key]

        return await asyncio.wait_for(wait(), timeout)

    # -- queue topics -----------------------------------------------------------------------
    async def push(self, topic: str, data: Any) -> None:
        """Push ``data`` into queue topic ``topic`` for back-end consumers (``queue.pop``)."""
        await self.hub.push(
            topic, {"n": self.hub.node_id, "c": str(self.id), "t": topic, "d": data}
        )

    def subscribe(self, *channels: str) -> None:
        self.hub.subscribe(self, list(channels))

    def unsubscribe(self, *channels: str) -> None:
        self.hub.unsubscribe(self, list(channels))


class Hub:
    """Local connections and channel membership; tells the engine which channels it holds."""

    def __init__(self, node_id: int, metrics: Any) -> None:
        self.node_id = node_id
        self.metrics = metrics
        self.clients: dict[int, ClientConn] = {}
        self.channels: dict[str, set[ClientConn]] = {}
        self.agent_topics: frozenset[str] = frozenset()  # of the paths whose clients are agents
        self.push: Callable[[str, dict[str, Any]], Awaitable[None]] = _no_queue
        self.on_interest: Callable[[str, bool], None] = lambda channel, on: None

    def add(self, conn: ClientConn) -> None:
        self.clients[conn.id] = conn

    def remove(self, conn: ClientConn) -> None:
        self.clients.pop(conn.id, None)
        self.unsubscribe(conn, list(conn.channels))

    def subscribe(self, conn: ClientConn, channels: list[str]) -> None:
        for name in channels:
            members = self.channels.setdefault(name, set())
            if not members:
                self.on_interest(name, True)
            members.add(conn)
            conn.channels.add(name)

    def unsubscribe(self, conn: ClientConn, channels: list[str]) -> None:
        for name in channels:
            conn.channels.discard(name)
            members = self.channels.get(name)
            if members is None:
                continue
            members.discard(conn)
            if not members:
                del self.channels[name]
                self.on_interest(name, False)

    def send_local(self, client_id: int, message: Message) -> None:
        conn = self.clients.get(client_id)
        if conn is None:
            raise MeshError(SEND_FAILED, "client not connected")
        if not conn.deliver(message):
            raise MeshError(SEND_FAILED, "client is too slow or closing")

    def call_local(self, client_id: int, function: str, args: list[Any]) -> None:
        conn = self.clients.get(client_id)
        if conn is None:
            raise MeshError(CALL_FAILED, "client not connected")
        if function == "set_context_value":
            conn.set_context_value(args[0], args[1])
        elif function == "set_context":
            conn.set_context(args[0])
        elif function == "subscribe":
            self.subscribe(conn, args)
        else:
            self.unsubscribe(conn, args)

    def publish_local(self, channel: str, message: Message) -> tuple[int, int]:
        members = self.channels.get(channel)
        if not members:
            return 0, 0
        sent = failed = 0
        for conn in list(members):
            if conn.deliver(message):
                sent += 1
            else:
                failed += 1
        return sent, failed


def encode_message(message: Message) -> tuple[str, str]:
    """``(t, d)`` for carrying a message inside JSON between nodes."""
    if isinstance(message, bytes):
        return "binary", base64.b64encode(message).decode()
    return "text", message


def decode_message(kind: str, data: str) -> Message:
    return base64.b64decode(data) if kind == "binary" else data


async def _no_queue(topic: str, item: dict[str, Any]) -> None:
    raise RuntimeError("no engine attached")
