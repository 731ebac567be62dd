"""The agent's HTTP/1.1 server on h11: routing, the /api transport, auth, limits, shutdown.

One asyncio server in the agent thread. ``POST /api`` hands the body to the API handler and
answers with its JSON; everything else is static files or the WebSocket terminal. Arthas closes
the connection after every response, and third-party clients are tested against that, so the
server does too unless the agent was started with ``keep_alive=True`` (then HTTP/1.1 keep-alive
is offered, and a client's ``Connection: close`` or HTTP/1.0 is still honoured).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import h11

from livescope.agent.auth import Authenticator, parse_cookie

if TYPE_CHECKING:
    from livescope.agent.runtime import Agent

MAX_BODY = 10 * 1024 * 1024  # Arthas's HttpObjectAggregator limit
READ_CHUNK = 65536
HEADER_LIMIT = 64 * 1024
DRAIN_SECONDS = 1.0  # after refusing a request, how long unread input is swallowed
API_CONTENT_TYPE = "application/json; charset=utf-8"


class Request:
    """One parsed request: method, path, query, lower-cased headers, peer and cookie."""

    def __init__(self, event: h11.Request, peer_host: str) -> None:
        self.method = event.method.decode("ascii", "replace").upper()
        target = event.target.decode("utf-8", "replace")
        parts = urlsplit(target)
        self.target = target
        self.path = parts.path
        self.query: dict[str, str] = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.headers: dict[str, str] = {}
        for name, value in event.headers:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text
        self.raw_headers = event.headers
        self.http_version = event.http_version
        self.peer_host = peer_host
        self.cookie: str = ""  # the asession value set on the response


class Response:
    """What a route answers; the server adds the cookie, length and connection headers."""

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "text/plain",
        headers: list[tuple[str, str]] | None = None,
        close: bool = False,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or []
        self.close = close


class HttpServer:
    """Serves one listening socket; ``close`` waits for answers in flight, then drops the rest."""

    def __init__(self, agent: Agent, authenticator: Authenticator, keep_alive: bool) -> None:
        self.agent = agent
        self.auth = authenticator
        self.keep_alive = keep_alive
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._api: Any = None

    async def listen(self, host: str, port: int) -> int:
        """Bind and start accepting; returns the bound port (useful with port 0)."""
        self._server = await asyncio.start_server(
            self._on_connection, host, port, reuse_address=True
        )
        return self._server.sockets[0].getsockname()[1]

    async def close(self, grace: float = 3.0) -> None:
        """Stop accepting, let requests being answered finish (up to ``grace``), drop the rest."""
        if self._server is not None:
            self._server.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace)
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=1.0)
        if self._server is not None:
            await self._server.wait_closed()

    # -- connections ---------------------------------------------------------------------------

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:  # a bug here must never reach the target program
            _log_exception("livescope: connection failed")
        finally:
            self._connections.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        peer_host = peer[0] if peer else ""
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=HEADER_LIMIT)
        while True:
            try:
                event = await _next_event(conn, reader)
            except h11.RemoteProtocolError:
                await self._refuse(conn, writer, reader, Response(400, b"Bad request", close=True))
                return
            if not isinstance(event, h11.Request):
                return  # ConnectionClosed or a stray event: nothing more to answer
            request = Request(event, peer_host)
            self._in_flight += 1
            self._idle.clear()
            try:
                keep_open = await self._answer(conn, request, reader, writer)
            finally:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.set()
            if not keep_open or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()

    async def _answer(
        self,
        conn: h11.Connection,
        request: Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Route one request and send its response; False when the connection must close."""
        request.cookie = self.auth.session_cookie(parse_cookie(request.headers.get("cookie", "")))
        if not self.auth.check(request.peer_host, request.headers, request.query, request.cookie):
            await self._refuse(conn, writer, reader, _unauthorized())
            return False
        if request.path == "/ws":
            from livescope.agent.websocket import is_upgrade, serve_websocket

            if is_upgrade(request):
                await serve_websocket(self.agent, conn, request, reader, writer)
                return False
        if request.path == "/api" and request.method == "POST":
            body = await self._read_body(conn, request, reader, writer)
            if body is None:
                return False
            response = await self._api_response(request, body)
        else:
            response = await self._route_other(request)
        response.close = response.close or not self.keep_alive
        await self._send(conn, writer, request, response)
        if response.close:
            return False
        # a body nobody read (GET with content, static routes) must be consumed to reuse the socket
        while conn.their_state is h11.SEND_BODY:
            if isinstance(await _next_event(conn, reader), h11.ConnectionClosed):
                return False
        return True

    async def _read_body(
        self,
        conn: h11.Connection,
        request: Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bytes | None:
        """The request body, or None once a 413/400 has been sent and the connection must close."""
        too_large = Response(413, b"Request entity too large", close=True)
        length = request.headers.get("content-length", "")
        if length.strip().isdigit() and int(length) > MAX_BODY:
            await self._refuse(conn, writer, reader, too_large)
            return None
        if conn.they_are_waiting_for_100_continue:
            writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                event = await _next_event(conn, reader)
            except h11.RemoteProtocolError:
                await self._refuse(conn, writer, reader, Response(400, b"Bad request", close=True))
                return None
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > MAX_BODY:
                    await self._refuse(conn, writer, reader, too_large)
                    return None
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            else:  # the client went away mid-body
                return None

    async def _api_response(self, request: Request, body: bytes) -> Response:
        try:
            handler = self._api_handler()
            reply = await handler.handle(body, request.peer_host, request.query.get("userId"))
            data = json.dumps(reply, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        except Exception:
            _log_exception("livescope: /api handler failed")
            return Response(500, b"Server error", close=True)
        return Response(200, data, API_CONTENT_TYPE)

    def _api_handler(self) -> Any:
        if self._api is None:
            from livescope.agent.api import ApiHandler

            self._api = ApiHandler(self.agent)
        return self._api

    async def _route_other(self, request: Request) -> Response:
        if request.path == "/api":  # any method but POST
            message = f"Unsupported http method: {request.method}"
            data = json.dumps({"state": "REFUSED", "message": message}, separators=(",", ":"))
            return Response(200, data.encode("utf-8"), API_CONTENT_TYPE)
        from livescope.agent.static import serve_static

        return serve_static(self.agent, request)

    # -- writing -------------------------------------------------------------------------------

    async def _send(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        request: Request,
        response: Response,
    ) -> None:
        headers = list(response.headers)
        if response.content_type is not None:
            headers.append(("Content-Type", response.content_type))
        headers.append(("Content-Length", str(len(response.body))))
        headers.append(("Set-Cookie", f"asession={request.cookie}"))
        if response.close:
            headers.append(("Connection", "close"))
        writer.write(conn.send(h11.Response(status_code=response.status, headers=headers)))
        if request.method != "HEAD" and response.body:
            writer.write(conn.send(h11.Data(data=response.body)))
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()

    async def _refuse(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        reader: asyncio.StreamReader,
        response: Response,
    ) -> None:
        """Send an error and close without a reset, so the client reads the answer."""
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        headers = list(response.headers)
        if response.content_type is not None:
            headers.append(("Content-Type", response.content_type))
        headers += [("Content-Length", str(len(response.body))), ("Connection", "close")]
        writer.write(conn.send(h11.Response(status_code=response.status, headers=headers)))
        if response.body:
            writer.write(conn.send(h11.Data(data=response.body)))
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        await _drain_input(reader)


def _unauthorized() -> Response:
    return Response(
        401, b"", headers=[("WWW-Authenticate", 'Basic realm="arthas webconsole"')], close=True
    )


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
    """The next h11 event, reading from the socket as needed (EOF becomes ConnectionClosed)."""
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        data = await reader.read(READ_CHUNK)
        conn.receive_data(data)


async def _drain_input(reader: asyncio.StreamReader) -> None:
    """Swallow what the client still sends for a short while before closing."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_SECONDS
    swallowed = 0
    try:
        while swallowed < 2 * MAX_BODY:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            data = await asyncio.wait_for(reader.read(READ_CHUNK), remaining)
            if not data:
                return
            swallowed += len(data)
    except (asyncio.TimeoutError, ConnectionError):
        return


def _log_exception(message: str) -> None:
    """Log the current exception; logging is imported only when something went wrong."""
    import logging

    logging.getLogger("livescope.agent").exception(message)
