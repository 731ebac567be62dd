"""The end-user connections one node holds, their channels and their outbound bytes.

Delivery never awaits a socket. A message is framed once (a server's WebSocket frame is the
same bytes for every receiver) and handed to each connection's transport, which sends what
the kernel takes at once and buffers the rest; the transport's buffer is the outbound queue.
A connection whose unsent bytes would exceed its budget is disconnected, so one slow reader
never stalls a publish to everyone else. No task per connection: a publish to 10,000 clients
is 10,000 ``transport.write`` calls of one prebuilt frame.
"""

from __future__ import annotations

import asyncio
import base64
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
        self._transport: asyncio.WriteTransport | None = None  # set once the upgrade is sent
        self._early: list[bytes] = []  # frames sent by a handshake hook before that
        self._context_changed = asyncio.Event()

    # -- outbound ---------------------------------------------------------------------------
    def opened(self, transport: asyncio.WriteTransport) -> None:
        """The upgrade went out: frames go to ``transport`` from now on, early ones first."""
        self._transport = transport
        early, self._early = self._early, []
        for frame in early:
            self.deliver_frame(frame)

    def deliver(self, message: Message) -> bool:
        """Send ``message``; False (and the client is dropped) when it is over its budget."""
        return self.deliver_frame(server_frame(message))

    def deliver_frame(self, frame: bytes) -> bool:
        """Send one prebuilt WebSocket frame (see ``server_frame``)."""
        if self.closed:
            return False
        transport = self._transport
        if transport is None:
            unsent = sum(map(len, self._early))
        elif transport.is_closing():
            self.close()
            return False
        else:
            unsent = transport.get_write_buffer_size()
        if unsent + len(frame) > self._budget:
            self.hub.metrics.slow_disconnects += 1
            self.close(code=1008, reason="outbound budget exceeded")
            return False
        if transport is None:
            self._early.append(frame)
        else:
            transport.write(frame)
            self.hub.metrics.messages_out += 1
        return True

    def send(self, data: Message) -> bool:
        """Send a message to this client (for hooks)."""
        return self.deliver(data)

    def abandon(self) -> None:
        """Drop a connection that was refused before its handshake completed."""
        self.closed = True
        self._early.clear()

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        self._early.clear()
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
        frame = server_frame(message)
        sent = failed = 0
        for conn in list(members):
            if conn.deliver_frame(frame):
                sent += 1
            else:
                failed += 1
        return sent, failed


def server_frame(message: Message) -> bytes:
    """One unmasked, unfragmented, uncompressed WebSocket frame (RFC 6455 §5.2): text for
    ``str``, binary for ``bytes``. Valid whether or not permessage-deflate was negotiated
    (RSV1 clear means not compressed)."""
    if isinstance(message, str):
        opcode, payload = 0x81, message.encode()
    else:
        opcode, payload = 0x82, message
    size = len(payload)
    if size < 126:
        head = bytes((opcode, size))
    elif size < 1 << 16:
        head = bytes((opcode, 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((opcode, 127)) + size.to_bytes(8, "big")
    return head + payload


def encode_message(message: Message) -> tuple[str, str]:
    """``(t, d)`` for carrying a message inside JSON between nodes."""
    if isinstance(message, bytes):
        return "binary", base64.b64encode(message).decode()
    return "text", message


def decode_message(kind: str, data: str) -> Message:
    return base64.b64decode(data) if kind == "binary" else data


async def _no_queue(topic: str, item: dict[str, Any]) -> None:
    raise RuntimeError("no engine attached")
