"""The ``/ws`` WebSocket (wsproto): the classic xterm-style terminal of reference §10.

The upgrade is accepted here and text frames are handed to ``livescope.agent.terminal`` when
that module exists (``serve_terminal(agent, send_text, receive, query)``); without it the
socket is closed with code 1011. A ping goes out whenever nothing was written for 10 seconds, as Arthas
does, so idle terminals survive proxies.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import h11
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Message,
    Ping,
    Request,
    TextMessage,
)

if TYPE_CHECKING:
    from livescope.agent.runtime import Agent
    from livescope.agent.server import Request as HttpRequest

PING_IDLE_SECONDS = 10.0
TERMINAL_MODULE = "livescope.agent.terminal"
READ_CHUNK = 65536


def is_upgrade(request: HttpRequest) -> bool:
    return request.method == "GET" and "websocket" in request.headers.get("upgrade", "").lower()


class _Socket:
    """One accepted WebSocket: serialised writes, a queue of received texts, idle pings."""

    def __init__(
        self, ws: WSConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.ws = ws
        self.reader = reader
        self.writer = writer
        self.incoming: asyncio.Queue[str | None] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()
        self.last_write = self.loop.time()
        self.closed = asyncio.Event()
        self._write_lock = asyncio.Lock()

    async def send_event(self, event: Event) -> None:
        async with self._write_lock:
            if self.closed.is_set():
                return
            self.writer.write(self.ws.send(event))
            self.last_write = self.loop.time()
            await self.writer.drain()
            if isinstance(event, CloseConnection):
                self.closed.set()

    async def send_text(self, text: str) -> None:
        if self.closed.is_set():
            raise ConnectionError("websocket closed")
        await self.send_event(Message(data=text))

    async def receive(self) -> AsyncIterator[str]:
        while True:
            item = await self.incoming.get()
            if item is None:
                return
            yield item

    async def read_forever(self, pending: bytes) -> None:
        """Feed received bytes to wsproto and dispatch its events until the socket closes."""
        parts: list[str] = []
        try:
            data = pending or await self.reader.read(READ_CHUNK)
            while True:
                self.ws.receive_data(data or None)
                for event in self.ws.events():
                    if isinstance(event, TextMessage):
                        parts.append(event.data)
                        if event.message_finished:
                            self.incoming.put_nowait("".join(parts))
                            parts.clear()
                    elif isinstance(event, Ping):
                        await self.send_event(event.response())
                    elif isinstance(event, CloseConnection):
                        with contextlib.suppress(Exception):
                            await self.send_event(event.response())
                        return
                if not data:
                    return
                data = await self.reader.read(READ_CHUNK)
        finally:
            self.closed.set()
            self.incoming.put_nowait(None)

    async def ping_when_idle(self) -> None:
        while not self.closed.is_set():
            idle = self.loop.time() - self.last_write
            if idle >= PING_IDLE_SECONDS:
                await self.send_event(Ping())
                continue
            await asyncio.sleep(PING_IDLE_SECONDS - idle)

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.send_event(CloseConnection(code=code, reason=reason))


async def serve_websocket(
    agent: Agent,
    conn: h11.Connection,
    request: HttpRequest,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    """Complete the upgrade of an authenticated ``GET /ws`` and run the terminal on it."""
    ws = WSConnection(ConnectionType.SERVER)
    ws.initiate_upgrade_connection(request.raw_headers, request.target)
    socket = _Socket(ws, reader, writer)
    for event in ws.events():
        if isinstance(event, Request):
            await socket.send_event(AcceptConnection())
    pending, _ = conn.trailing_data
    reading = asyncio.ensure_future(socket.read_forever(bytes(pending)))
    pinging = asyncio.ensure_future(socket.ping_when_idle())
    try:
        terminal = _terminal_module()
        if terminal is None:
            await socket.close(1011, "no terminal")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(reading), 2.0)
            return
        await terminal.serve_terminal(agent, socket.send_text, socket.receive(), request.query)
        await socket.close(1000, "bye")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(reading), 2.0)
    except ConnectionError:
        pass
    finally:
        for task in (reading, pinging):
            task.cancel()


def _terminal_module():  # -> module | None
    try:
        if importlib.util.find_spec(TERMINAL_MODULE) is None:
            return None
    except (ImportError, ValueError):
        return None
    return importlib.import_module(TERMINAL_MODULE)
