"""A client WebSocket on wsproto, for the agent's own asyncio loop (standard library + wsproto).

The agent reaches a mesh node through it. It is deliberately small: text messages only (the
mesh link speaks JSON text), ping/pong and the close handshake, ``ws://`` and ``wss://``, and a
URL's ``user:password@`` becomes Basic auth on the handshake (for a node's handshake hook).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
from urllib.parse import unquote, urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Message,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

READ_CHUNK = 65536
MAX_INCOMING = 16 * 1024 * 1024  # one text message; a node never sends more than its own limit
DEFAULT_PORTS = {"ws": 80, "wss": 443}


class WebSocketError(ConnectionError):
    """The handshake was refused or the connection broke."""


def check_url(url: str) -> None:
    """Raise ValueError, saying what is wrong, unless ``url`` is a ws:// or wss:// URL."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not a WebSocket URL (ws://host:port/path): {url!r}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"bad port in {url!r}") from None


class ClientWebSocket:
    """One open connection. A single task reads (``receive``); any task may send."""

    def __init__(
        self, ws: WSConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._ws = ws
        self._reader = reader
        self._writer = writer
        self._lock = asyncio.Lock()
        self._parts: list[str] = []
        self._size = 0
        self._texts: collections.deque[str] = collections.deque()
        self._loop = asyncio.get_running_loop()
        self.closed = False
        self.last_received = self._loop.time()

    @classmethod
    async def connect(
        cls, url: str, timeout: float, extra_headers: list[tuple[str, str]] | None = None
    ) -> ClientWebSocket:
        """Open the TCP (or TLS) connection and complete the handshake within ``timeout``."""
        check_url(url)
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        context = None
        if parts.scheme == "wss":
            import ssl  # only then: it loads OpenSSL into the target

            context = ssl.create_default_context()
        headers = list(extra_headers or [])
        if parts.username is not None or parts.password is not None:
            pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
            headers.append(("Authorization", "Basic " + base64.b64encode(pair.encode()).decode()))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = parts.netloc.rpartition("@")[2]

        async def handshake() -> ClientWebSocket:
            reader, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=host if context else None
            )
            ws = WSConnection(ConnectionType.CLIENT)
            try:
                writer.write(
                    ws.send(Request(host=host_header, target=target, extra_headers=headers))
                )
                await writer.drain()
                while True:
                    data = await reader.read(READ_CHUNK)
                    ws.receive_data(data or None)
                    for event in ws.events():
                        if isinstance(event, AcceptConnection):
                            return cls(ws, reader, writer)
                        if isinstance(event, RejectConnection):
                            raise WebSocketError(f"handshake refused with HTTP {event.status_code}")
                    if not data:
                        raise WebSocketError("connection closed during the handshake")
            except BaseException:
                writer.close()
                raise

        try:
            return await asyncio.wait_for(handshake(), timeout)
        except asyncio.TimeoutError:
            raise WebSocketError(f"no handshake within {timeout:g}s") from None
        except OSError as exc:
            raise WebSocketError(str(exc) or type(exc).__name__) from None

    # -- sending ---------------------------------------------------------------------------------
    async def _send(self, event: Event, timeout: float) -> None:
        async with self._lock:
            state = self._ws.state
            answering_close = (
                isinstance(event, CloseConnection) and state is ConnectionState.REMOTE_CLOSING
            )
            if self.closed or (state is not ConnectionState.OPEN and not answering_close):
                raise WebSocketError("websocket closed")
            self._writer.write(self._ws.send(event))
            try:
                await asyncio.wait_for(self._writer.drain(), timeout)
            except (asyncio.TimeoutError, OSError) as exc:
                self._abort()
                raise WebSocketError(f"send failed: {exc or 'timed out'}") from None

    async def send_text(self, text: str, timeout: float = 30.0) -> None:
        await self._send(Message(data=text), timeout)

    async def ping(self) -> None:
        await self._send(Ping(), 10.0)

    # -- receiving -------------------------------------------------------------------------------
    async def receive(self) -> str | None:
        """The next text message, or None once the connection is closed."""
        while True:
            await self._dispatch()
            if self._texts:
                return self._texts.popleft()
            if self.closed:
                return None
            try:
                data = await self._reader.read(READ_CHUNK)
            except OSError:
                data = b""
            self.last_received = self._loop.time()
            if not data:
                self._abort()
                return None
            self._ws.receive_data(data)

    async def _dispatch(self) -> None:
        for event in self._ws.events():
            if isinstance(event, TextMessage):
                self._size += len(event.data)
                if self._size > MAX_INCOMING:
                    await self.close(1009, "message too big")
                    return
                self._parts.append(event.data)
                if event.message_finished:
                    self._texts.append("".join(self._parts))
                    self._parts.clear()
                    self._size = 0
            elif isinstance(event, Ping):
                with contextlib.suppress(WebSocketError):
                    await self._send(event.response(), 10.0)
            elif isinstance(event, CloseConnection):
                with contextlib.suppress(WebSocketError, RuntimeError):
                    await self._send(event.response(), 2.0)
                self._abort()
                return

    # -- closing ---------------------------------------------------------------------------------
    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame (if still open) and drop the connection."""
        if self.closed:
            return
        with contextlib.suppress(WebSocketError, RuntimeError):
            if self._ws.state is ConnectionState.OPEN:
                await self._send(CloseConnection(code=code, reason=reason), 2.0)
        self._abort()

    def _abort(self) -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            self._writer.close()
