"""A mesh node: the back-end API server (spec/004) and the end-user WebSocket server."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from livescope.mesh import protocol as p
from livescope.mesh.agent_hook import is_reply_topic
from livescope.mesh.engine import Consumer, Engine
from livescope.mesh.hooks import Hooks, topic_of
from livescope.mesh.hub import ClientConn, Hub, Message
from livescope.mesh.metrics import Metrics
from livescope.mesh.protocol import MeshError
from livescope.mesh.snowflake import Snowflake, node_of

log = logging.getLogger(__name__)


@dataclass
class NodeConfig:
    host: str = "127.0.0.1"
    api_port: int = 6789
    client_port: int = 6790
    token: str | None = None
    max_message_size: int = 1 << 20
    idle_timeout: float = 60.0
    outbound_budget: int = 1 << 20
    agent_paths: tuple[str, ...] = ("/livescope",)  # clients there are livescope agents


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class Node:
    """Wires an engine, the local hub and the hooks to two aiohttp servers."""

    def __init__(self, engine: Engine, hooks: Hooks, config: NodeConfig) -> None:
        self.engine = engine
        self.hooks = hooks
        self.config = config
        self.metrics = Metrics()
        self.hub = Hub(0, self.metrics)
        self.hub.push = self._push
        self.hub.agent_topics = frozenset(topic_of(path) for path in config.agent_paths)
        self._ids: Snowflake | None = None
        self._runners: list[web.AppRunner] = []

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        c = self.config
        await self.engine.start(
            self.hub, f"http://{c.host}:{c.api_port}", f"ws://{c.host}:{c.client_port}"
        )
        self.hub.node_id = self.engine.node_id
        self._ids = Snowflake(self.engine.node_id)
        # API bodies carry base64 of up to a client-sized message, plus the envelope.
        body_limit = c.max_message_size * 4 // 3 + 65536
        api = web.Application(middlewares=[self._auth], client_max_size=body_limit)
        api.add_routes(
            [
                web.post("/v1/mesh/send", self._http_send),
                web.post("/v1/mesh/publish", self._http_publish),
                web.get("/ws/v1", self._api_ws),
                web.get("/v1/nodes", self._http_nodes),
                web.get("/healthz", self._healthz),
                web.get("/metrics", self._http_metrics),
            ]
        )
        clients = web.Application()
        clients.add_routes([web.get("/{path:.*}", self._client_ws)])
        for app, port in ((api, c.api_port), (clients, c.client_port)):
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            await web.TCPSite(runner, c.host, port).start()
            self._runners.append(runner)

    async def stop(self) -> None:
        for conn in list(self.hub.clients.values()):
            conn.close(code=1001, reason="node shutting down")
        for runner in self._runners:
            await runner.cleanup()
        await self.engine.stop()

    # -- shared operations ------------------------------------------------------------------
    def transient(self, topic: str) -> bool:
        """Reply topics of agents' paths live only while used (each is one command's)."""
        return is_reply_topic(topic, self.hub.agent_topics)

    async def _push(self, topic: str, item: dict[str, Any]) -> None:
        self.metrics.queue_pushed += 1
        await self.engine.push(topic, item, self.transient(topic))

    async def _send(self, params: Any) -> dict[str, Any]:
        if not isinstance(params, dict):
            raise MeshError(p.INVALID_ARGUMENT, "parameters must be an object")
        client_id = p.client_id(params.get("c"))
        message = p.payload(params)
        route = "local" if node_of(client_id) == self.engine.node_id else "forwarded"
        started = time.perf_counter()
        try:
            await self.engine.send(client_id, message)
        finally:
            self.metrics.observe_send(route, time.perf_counter() - started)
        return {"s": True}

    async def _publish(self, params: Any) -> dict[str, Any]:
        if not isinstance(params, dict):
            raise MeshError(p.INVALID_ARGUMENT, "parameters must be an object")
        channel = p.channel(params.get("c"))
        message = p.payload(params)
        sent, failed = await self.engine.publish(channel, message)
        return {"s": sent, "f": failed}

    # -- HTTP API ---------------------------------------------------------------------------
    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        token = self.config.token
        if token and request.path != "/healthz" and not _authorized(request, token):
            return web.json_response(
                p.error(401, "unauthorized"),
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="mesh"'},
            )
        return await handler(request)

    async def _http_call(self, request: web.Request, operation: Any) -> web.Response:
        try:
            try:
                params = orjson.loads(await request.read())
            except orjson.JSONDecodeError:
                raise MeshError(p.INVALID_ARGUMENT, "body is not JSON") from None
            body = p.ok(await operation(params))
        except MeshError as exc:
            body = p.error(exc.code, exc.message)
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def _http_send(self, request: web.Request) -> web.Response:
        return await self._http_call(request, self._send)

    async def _http_publish(self, request: web.Request) -> web.Response:
        return await self._http_call(request, self._publish)

    async def _http_nodes(self, request: web.Request) -> web.Response:
        return web.Response(
            body=orjson.dumps({"nodes": await self.engine.nodes()}),
            content_type="application/json",
        )

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "node": self.engine.node_id})

    async def _http_metrics(self, request: web.Request) -> web.Response:
        self.metrics.clients = len(self.hub.clients)
        return web.Response(
            text=self.metrics.render(self.engine.node_id), content_type="text/plain"
        )

    # -- WebSocket API ----------------------------------------------------------------------
    async def _api_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=self.config.max_message_size)
        await ws.prepare(request)
        session = _ApiSession(self, ws)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                if msg.data == "ping":
                    await ws.send_str("pong")
                    continue
                await ws.send_str(_dumps(await session.handle(msg.data)))
        finally:
            await session.close()
        return ws

    # -- end-user connections ---------------------------------------------------------------
    async def _client_ws(self, request: web.Request) -> web.StreamResponse:
        c = self.config
        ws = web.WebSocketResponse(
            autoping=True, max_msg_size=c.max_message_size, receive_timeout=c.idle_timeout
        )
        assert self._ids is not None
        conn = ClientConn(
            self.hub, self._ids.next(), request.path, ws, c.outbound_budget, dict(request.headers)
        )
        try:
            accepted = await self.hooks.handshake(conn, request)
        except Exception:
            log.exception("on_handshake failed")
            accepted = False
        if not accepted:
            conn.abandon()
            return web.Response(status=403, text="handshake refused")
        await ws.prepare(request)
        transport = request.transport
        if transport is None:  # the client went away during the upgrade
            conn.abandon()
            return ws
        conn.opened(transport)
        self.hub.add(conn)
        self.metrics.connections_total += 1
        try:
            await self._client_loop(conn, ws)
        finally:
            self.hub.remove(conn)
            conn.close()
            try:
                await self.hooks.close(conn)
            except Exception:
                log.exception("on_close failed")
        return ws

    async def _client_loop(self, conn: ClientConn, ws: web.WebSocketResponse) -> None:
        while not conn.closed:
            try:
                msg = await ws.receive()
            except asyncio.TimeoutError:
                conn.close(code=1001, reason="idle timeout")
                return
            if msg.type == WSMsgType.TEXT:
                if msg.data == "ping":
                    conn.deliver("pong")
                    continue
                frame = {"type": "text", "data": msg.data, "finish": True}
            elif msg.type == WSMsgType.BINARY:
                frame = {
                    "type": "binary",
                    "data": base64.b64encode(msg.data).decode(),
                    "finish": True,
                }
            else:
                return  # close, error (including an oversized message: 1009)
            self.metrics.messages_in += 1
            try:
                await self.hooks.message(conn, frame)
            except Exception:
                log.exception("on_message failed for client %s", conn.id)


class _ApiSession:
    """One back-end WebSocket connection: its requests and its queue consumption."""

    def __init__(self, node: Node, ws: web.WebSocketResponse) -> None:
        self.node = node
        self.ws = ws
        self.consumer: Consumer | None = None

    async def handle(self, text: str) -> dict[str, Any]:
        request_id = None
        try:
            try:
                request = orjson.loads(text)
            except orjson.JSONDecodeError:
                raise MeshError(p.INVALID_ARGUMENT, "request is not JSON") from None
            if not isinstance(request, dict):
                raise MeshError(p.INVALID_ARGUMENT, "request must be an object")
            request_id = request.get("i", request.get("id"))
            method = request.get("m")
            params = request.get("p", {})
            handler = self.METHODS.get(method) if isinstance(method, str) else None
            if handler is None:
                raise MeshError(p.INVALID_ARGUMENT, f"unknown method {method!r}")
            return p.ok(await handler(self, params), request_id)
        except MeshError as exc:
            return p.error(exc.code, exc.message, request_id)

    async def _pop(self, params: Any) -> dict[str, Any]:
        if self.consumer is not None:
            raise MeshError(p.REPEATED_CONSUMPTION, "already consuming; send queue.unpop first")
        topics = p.topics(params)
        try:
            transient = frozenset(filter(self.node.transient, topics))
            self.consumer = await self.node.engine.consume(topics, self._deliver, transient)
        except Exception as exc:
            raise MeshError(p.CONSUME_FAILED, f"consumption failed: {exc}") from None
        return {"s": True}

    async def _unpop(self, params: Any) -> dict[str, Any]:
        consumer, self.consumer = self.consumer, None
        if consumer is not None:
            try:
                await consumer.close()
            except Exception as exc:
                raise MeshError(p.UNPOP_FAILED, f"failed to cancel consumption: {exc}") from None
        return {"s": True}

    async def _call(self, params: Any) -> dict[str, Any]:
        if not isinstance(params, dict):
            raise MeshError(p.INVALID_ARGUMENT, "parameters must be an object")
        client_id = p.client_id(params.get("c"))
        function, args = p.call_args(params.get("f"), params.get("a"))
        try:
            await self.node.engine.call(client_id, function, args)
        except MeshError:
            raise
        except Exception as exc:
            raise MeshError(p.CALL_FAILED, f"execution failed: {exc}") from None
        return {"s": True}

    async def _mesh_send(self, params: Any) -> dict[str, Any]:
        return await self.node._send(params)

    async def _mesh_publish(self, params: Any) -> dict[str, Any]:
        return await self.node._publish(params)

    METHODS = {
        "queue.pop": _pop,
        "queue.unpop": _unpop,
        "conn.call": _call,
        "mesh.send": _mesh_send,
        "mesh.publish": _mesh_publish,
    }

    async def _deliver(self, item: dict[str, Any]) -> None:
        if self.ws.closed:
            raise ConnectionError("consumer connection closed")
        await self.ws.send_str(_dumps(p.event("queue.pop", item)))
        self.node.metrics.queue_popped += 1

    async def close(self) -> None:
        if self.consumer is not None:
            await self._unpop({})


def _authorized(request: web.Request, token: str) -> bool:
    """``Authorization: Bearer T``, Basic with password T, or ``?token=T`` (WebSocket)."""
    header = request.headers.get("Authorization", "")
    offered = request.query.get("token", "")
    if header.startswith("Bearer "):
        offered = header[7:]
    elif header.startswith("Basic "):
        try:
            offered = base64.b64decode(header[6:]).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return False
    return hmac.compare_digest(offered.encode(), token.encode())


__all__ = ["Message", "Node", "NodeConfig"]
