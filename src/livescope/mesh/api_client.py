"""A back end's connection to a mesh node's WebSocket API (``/ws/v1``, spec/004), on aiohttp.

Requests are matched to replies by ``"i"``; ``queue.pop`` events go to ``on_event``. When the
node goes away the client reconnects by itself (to the next of its URLs), consumes its topics
again, and a request caught in the gap is sent again — so only idempotent requests belong here,
which every request the fleet makes is.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

CONNECT_TIMEOUT = 3.0
RECONNECT_FIRST = 0.2
RECONNECT_MAX = 2.0
SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


class NodeUnreachable(Exception):
    """No node could be reached (or none answered in time)."""


class MeshApiError(Exception):
    """The node answered with an error ``{"E": {"c", "m"}}``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message


class _ConnectionLost(Exception):
    pass


def api_ws_url(url: str) -> str:
    """``http://host:6789`` (or ``ws://``, or ``host:port``) -> ``ws://host:6789/ws/v1``."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    scheme = SCHEMES.get(parts.scheme)
    if scheme is None or not parts.hostname:
        raise ValueError(f"not a mesh API URL (http://host:port): {url!r}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"bad port in {url!r}") from None
    path = parts.path if parts.path not in ("", "/") else "/ws/v1"
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


class MeshApi:
    """One WebSocket to a node's API that survives the node going away."""

    def __init__(self, urls: Sequence[str], token: str | None = None) -> None:
        self.urls = [api_ws_url(url) for url in urls]
        self.token = token
        self.on_event: Callable[[dict[str, Any]], None] = lambda params: None
        self.url: str | None = None
        self.reconnects = 0
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ready = asyncio.Event()
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._topics: list[str] = []
        self._closing = False
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        """Connect to the first URL that answers; NodeUnreachable (saying why) if none does."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        timeout = aiohttp.ClientTimeout(
            total=None, connect=CONNECT_TIMEOUT, sock_connect=CONNECT_TIMEOUT
        )
        self._session = aiohttp.ClientSession(headers=headers, timeout=timeout)
        errors = await self._open()
        if errors is not None:
            await self._session.close()
            raise NodeUnreachable("; ".join(errors))
        self._reader = asyncio.get_running_loop().create_task(self._read_forever())

    async def _open(self) -> list[str] | None:
        """One pass over the URLs: None once connected, else what went wrong with each."""
        assert self._session is not None
        errors = []
        for url in self.urls:
            try:
                ws = await asyncio.wait_for(
                    self._session.ws_connect(
                        url,
                        heartbeat=10.0,
                        max_msg_size=0,
                        timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                    ),
                    CONNECT_TIMEOUT * 2,
                )
            except aiohttp.WSServerHandshakeError as exc:
                reason = "the node refused the token" if exc.status == 401 else exc.message
                errors.append(f"{url}: HTTP {exc.status} {reason}")
                continue
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                errors.append(f"{url}: {exc or type(exc).__name__}")
                continue
            self._ws, self.url = ws, url
            self._ready.set()
            return None
        return errors

    async def close(self) -> None:
        self._closing = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._session is not None:
            await self._session.close()

    # -- requests ---------------------------------------------------------------------------
    async def call(self, method: str, params: Any, timeout: float = 10.0) -> dict[str, Any]:
        """Send one request; its ``r``. MeshApiError for an ``E`` reply; NodeUnreachable if no
        node answered within ``timeout`` (the request is sent again after a reconnect)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            try:
                await asyncio.wait_for(self._ready.wait(), max(remaining, 0.001))
            except asyncio.TimeoutError:
                raise NodeUnreachable(
                    f"no mesh node answered {method} within {timeout:g}s"
                ) from None
            request_id = next(self._ids)
            future: asyncio.Future[dict[str, Any]] = loop.create_future()
            self._pending[request_id] = future
            try:
                assert self._ws is not None
                await self._ws.send_str(json.dumps({"m": method, "p": params, "i": request_id}))
                reply = await asyncio.wait_for(future, max(deadline - loop.time(), 0.001))
            except (_ConnectionLost, ConnectionError, aiohttp.ClientError, RuntimeError):
                await asyncio.sleep(0.05)  # the reader notices the close and reconnects
                continue
            except asyncio.TimeoutError:
                raise NodeUnreachable(
                    f"no mesh node answered {method} within {timeout:g}s"
                ) from None
            finally:
                self._pending.pop(request_id, None)
            error = reply.get("E")
            if error:
                raise MeshApiError(int(error.get("c", 0)), str(error.get("m", "")))
            return reply.get("r") or {}

    async def pop(self, topics: list[str]) -> None:
        """``queue.pop`` now and after every reconnect."""
        self._topics = list(topics)
        await self.call("queue.pop", {"t": self._topics})

    # -- the reader -------------------------------------------------------------------------
    async def _read_forever(self) -> None:
        while not self._closing:
            ws = self._ws
            assert ws is not None
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self._dispatch(message.data)
            self._ready.clear()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(_ConnectionLost())
            await self._reconnect()

    async def _reconnect(self) -> None:
        delay = RECONNECT_FIRST
        while not self._closing:
            if await self._open() is None:
                self.reconnects += 1
                if self._topics:
                    asyncio.get_running_loop().create_task(self._pop_again())
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)

    async def _pop_again(self) -> None:
        with contextlib.suppress(NodeUnreachable, MeshApiError):
            await self.call("queue.pop", {"t": self._topics})

    def _dispatch(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if message.get("e") == "queue.pop":
            self.on_event(message.get("p") or {})
            return
        future = self._pending.get(message.get("i"))  # type: ignore[arg-type]
        if future is not None and not future.done():
            future.set_result(message)
