"""The grid engine: many nodes sharing one Redis.

- Registry: each node keeps ``mesh:node:<id>`` alive (TTL 5 s, refreshed every second); the key
  is also how a node claims its id.
- Routing: every node listens on its own pub/sub channel ``mesh:n:<id>``. ``mesh.send`` and
  ``conn.call`` for a client of another node are published there (the owner is in the client id)
  and answered on the caller's channel. ``PUBLISH`` reports how many listeners got the message,
  so a request for a node that is gone fails at once (401/301) instead of timing out.
- Fan-out: ``mesh:chan:<channel>`` holds the ids of the nodes with local subscribers; a publish
  asks only those nodes and sums their ``s``/``f``.
- Queue topics: Redis Streams ``mesh:q:<topic>`` read by the consumer group ``mesh``. An entry is
  acknowledged after it was written to the consumer's socket; entries a dead consumer left
  unacknowledged are claimed by a live one after ``claim_idle`` seconds (XAUTOCLAIM). Delivery is
  at-least-once; everything else (send, publish) is at-most-once. A transient topic's stream
  (a back end's private reply topic) expires ``TRANSIENT_TTL`` seconds after it was last pushed
  to or consumed, so one-off topics do not stay in Redis.

Every loop survives Redis going away and puts its state (registry, interest sets, groups) back
when it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
import uuid
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from livescope.mesh.engine import TRANSIENT_TTL, Deliver
from livescope.mesh.hub import Hub, Message, decode_message, encode_message
from livescope.mesh.protocol import CALL_FAILED, SEND_FAILED, MeshError
from livescope.mesh.snowflake import MAX_NODE, node_of

log = logging.getLogger(__name__)

PREFIX = "mesh:"
GROUP = "mesh"
NODE_TTL = 5
HEARTBEAT = 1.0
RPC_TIMEOUT = 2.0
STREAM_MAXLEN = 100_000


class RedisEngine:
    delivery = "at-least-once"

    def __init__(self, url: str, node_id: int | None = None, claim_idle: float = 30.0) -> None:
        self.redis = aioredis.from_url(
            url, socket_connect_timeout=2, socket_timeout=10, health_check_interval=5
        )
        self.node_id = -1
        self._wanted_id = node_id
        self.claim_idle = claim_idle
        self.hub: Hub | None = None
        self._info: dict[str, Any] = {}
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()
        self._grouped: set[str] = set()
        self._interest_tail: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self, hub: Hub, api_url: str, client_url: str) -> None:
        self.hub = hub
        hub.on_interest = self._interest
        self._info = {"api": api_url, "client": client_url, "pid": os.getpid()}
        self._info["started"] = time.time()
        self.node_id = await self._claim_id()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._listen()), loop.create_task(self._heartbeat())]
        await asyncio.wait_for(self._listening.wait(), 10)

    async def _claim_id(self) -> int:
        candidates = [self._wanted_id] if self._wanted_id is not None else []
        if not candidates:
            candidates = random.sample(range(1, MAX_NODE + 1), MAX_NODE)
        for candidate in candidates:
            info = orjson.dumps({**self._info, "id": candidate})
            if await self.redis.set(f"{PREFIX}node:{candidate}", info, nx=True, ex=NODE_TTL):
                return candidate
        raise RuntimeError(f"node id {candidates[0]} is taken" if self._wanted_id else "grid full")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(RedisError, OSError):
            await self.redis.delete(f"{PREFIX}node:{self.node_id}")
        await self.redis.aclose()

    async def _heartbeat(self) -> None:
        """Keep our registry entry and interest sets in Redis, re-creating them after a restart."""
        assert self.hub is not None
        while True:
            try:
                info = {**self._info, "id": self.node_id, "clients": len(self.hub.clients)}
                pipe = self.redis.pipeline(transaction=False)
                pipe.set(f"{PREFIX}node:{self.node_id}", orjson.dumps(info), ex=NODE_TTL)
                for channel in list(self.hub.channels):
                    pipe.sadd(f"{PREFIX}chan:{channel}", self.node_id)
                await pipe.execute()
            except (RedisError, OSError) as exc:
                log.warning("redis heartbeat failed: %s", exc)
            await asyncio.sleep(HEARTBEAT)

    def _interest(self, channel: str, on: bool) -> None:
        # Interest changes are chained so that a subscribe and the unsubscribe right after it
        # reach Redis in that order, and `_interest_settled` can wait for all of them.
        key = f"{PREFIX}chan:{channel}"
        command = self.redis.sadd if on else self.redis.srem
        previous = self._interest_tail

        async def apply() -> None:
            if previous is not None:
                with contextlib.suppress(Exception):
                    await previous
            with contextlib.suppress(RedisError, OSError):
                await command(key, self.node_id)

        self._interest_tail = asyncio.get_running_loop().create_task(apply())

    async def _interest_settled(self) -> None:
        """Wait until every channel interest change so far is in Redis."""
        tail = self._interest_tail
        if tail is not None:
            with contextlib.suppress(Exception):
                await tail

    # -- node-to-node requests --------------------------------------------------------------
    async def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(f"{PREFIX}n:{self.node_id}")
                self._listening.set()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        await self._on_request(orjson.loads(message["data"]))
            except (RedisError, OSError) as exc:
                log.warning("redis subscription lost: %s", exc)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _on_request(self, request: dict[str, Any]) -> None:
        op = request.get("op")
        if op == "reply":
            future = self._pending.pop(request["q"], None)
            if future is not None and not future.done():
                future.set_result(request)
            return
        assert self.hub is not None
        reply: dict[str, Any] = {"op": "reply", "q": request.get("q")}
        try:
            if op == "send":
                self.hub.send_local(request["c"], decode_message(request["t"], request["d"]))
            elif op == "call":
                self.hub.call_local(request["c"], request["f"], request["a"])
                await self._interest_settled()  # the caller may publish right after the reply
            elif op == "publish":
                message = decode_message(request["t"], request["d"])
                reply["s"], reply["f"] = self.hub.publish_local(request["ch"], message)
        except MeshError as exc:
            reply["e"] = [exc.code, exc.message]
        with contextlib.suppress(RedisError, OSError):
            await self.redis.publish(f"{PREFIX}n:{request['from']}", orjson.dumps(reply))

    async def _ask(self, node: int, request: dict[str, Any], gone: MeshError) -> dict[str, Any]:
        """Publish a request to ``node`` and wait for its reply; ``gone`` if nobody listens."""
        request_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            body = orjson.dumps({**request, "q": request_id, "from": self.node_id})
            try:
                listeners = await self.redis.publish(f"{PREFIX}n:{node}", body)
            except (RedisError, OSError) as exc:
                raise MeshError(gone.code, f"grid unavailable: {exc}") from None
            if not listeners:
                raise gone
            try:
                reply = await asyncio.wait_for(future, RPC_TIMEOUT)
            except asyncio.TimeoutError:
                raise MeshError(gone.code, f"node {node} did not answer") from None
        finally:
            self._pending.pop(request_id, None)
        if "e" in reply:
            raise MeshError(*reply["e"])
        return reply

    # -- the engine API ---------------------------------------------------------------------
    async def send(self, client_id: int, message: Message) -> None:
        assert self.hub is not None
        owner = node_of(client_id)
        if owner == self.node_id:
            self.hub.send_local(client_id, message)
            return
        kind, data = encode_message(message)
        request = {"op": "send", "c": client_id, "t": kind, "d": data}
        await self._ask(owner, request, MeshError(SEND_FAILED, f"node {owner} is not in the grid"))

    async def call(self, client_id: int, function: str, args: list[Any]) -> None:
        assert self.hub is not None
        owner = node_of(client_id)
        if owner == self.node_id:
            self.hub.call_local(client_id, function, args)
            await self._interest_settled()
            return
        request = {"op": "call", "c": client_id, "f": function, "a": args}
        await self._ask(owner, request, MeshError(CALL_FAILED, f"node {owner} is not in the grid"))

    async def publish(self, channel: str, message: Message) -> tuple[int, int]:
        assert self.hub is not None
        sent, failed = self.hub.publish_local(channel, message)
        key = f"{PREFIX}chan:{channel}"
        try:
            members = await self.redis.smembers(key)
        except (RedisError, OSError):
            return sent, failed  # grid unreachable: local delivery only
        others = [int(m) for m in members if int(m) != self.node_id]
        if not others:
            return sent, failed
        kind, data = encode_message(message)
        request = {"op": "publish", "ch": channel, "t": kind, "d": data}
        gone = MeshError(SEND_FAILED, "gone")
        replies = await asyncio.gather(
            *(self._ask(node, request, gone) for node in others), return_exceptions=True
        )
        for node, reply in zip(others, replies, strict=True):
            if isinstance(reply, dict):
                sent += reply.get("s", 0)
                failed += reply.get("f", 0)
            elif isinstance(reply, MeshError) and reply is gone:
                with contextlib.suppress(RedisError, OSError):
                    await self.redis.srem(key, node)  # a dead node's interest
        return sent, failed

    async def push(self, topic: str, item: dict[str, Any], transient: bool = False) -> None:
        key = f"{PREFIX}q:{topic}"
        entry = {"v": orjson.dumps(item)}
        if transient:
            # No group here: a consumer that meets a stream without one creates it from id 0.
            pipe = self.redis.pipeline(transaction=False)
            pipe.xadd(key, entry, maxlen=STREAM_MAXLEN, approximate=True)
            pipe.expire(key, int(TRANSIENT_TTL))
            await pipe.execute()
            return
        if topic not in self._grouped:  # the group exists before any consumer: nothing skipped
            await ensure_group(self.redis, key)
            self._grouped.add(topic)
        await self.redis.xadd(key, entry, maxlen=STREAM_MAXLEN, approximate=True)

    async def consume(
        self, topics: list[str], deliver: Deliver, transient: frozenset[str] = frozenset()
    ) -> _StreamConsumer:
        consumer = _StreamConsumer(self, topics, deliver, transient)
        await consumer.ensure_groups()
        consumer.task = asyncio.get_running_loop().create_task(consumer.run())
        return consumer

    async def nodes(self) -> list[dict[str, Any]]:
        keys = [key async for key in self.redis.scan_iter(match=f"{PREFIX}node:*", count=1000)]
        values = await self.redis.mget(keys) if keys else []
        nodes = [orjson.loads(v) for v in values if v]
        return sorted(nodes, key=lambda n: n["id"])


async def ensure_group(redis: aioredis.Redis, key: str) -> None:
    """Create the consumer group from the stream's start (id 0), so no entry is skipped."""
    try:
        await redis.xgroup_create(key, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class _StreamConsumer:
    """One ``queue.pop``: a member of the group on every topic's stream."""

    def __init__(
        self, engine: RedisEngine, topics: list[str], deliver: Deliver, transient: frozenset[str]
    ) -> None:
        self.engine = engine
        self.redis = engine.redis
        self.keys = [f"{PREFIX}q:{t}" for t in topics]
        self.transient_keys = [f"{PREFIX}q:{t}" for t in topics if t in transient]
        self.deliver = deliver
        self.name = f"{engine.node_id}-{uuid.uuid4().hex[:12]}"
        self.task: asyncio.Task[None] | None = None

    async def ensure_groups(self) -> None:
        for key in self.keys:
            await ensure_group(self.redis, key)
        await self._keep_transient()

    async def _keep_transient(self) -> None:
        """Push back the expiry of the transient streams: they live while consumed."""
        if self.transient_keys:
            pipe = self.redis.pipeline(transaction=False)
            for key in self.transient_keys:
                pipe.expire(key, int(TRANSIENT_TTL))
            await pipe.execute()

    async def run(self) -> None:
        claim_ms = int(self.engine.claim_idle * 1000)
        next_claim = next_keep = 0.0
        while True:
            try:
                if time.monotonic() >= next_keep:
                    next_keep = time.monotonic() + TRANSIENT_TTL / 4
                    await self._keep_transient()
                if time.monotonic() >= next_claim:
                    next_claim = time.monotonic() + max(self.engine.claim_idle / 2, 0.5)
                    for key in self.keys:
                        claimed = await self.redis.xautoclaim(
                            key, GROUP, self.name, min_idle_time=claim_ms, count=100
                        )
                        if not await self._hand_over(key, claimed[1]):
                            return
                streams = {key: ">" for key in self.keys}
                batches = await self.redis.xreadgroup(
                    GROUP, self.name, streams, count=100, block=1000
                )
                for key, entries in batches or []:
                    if not await self._hand_over(key, entries):
                        return
            except ResponseError as exc:
                if "NOGROUP" not in str(exc) and "UNBLOCKED" not in str(exc):
                    raise
                # Redis lost the stream (a restart without persistence, an expired transient
                # topic), or it was pushed to before anyone created the group.
                await self.ensure_groups()
            except (RedisError, OSError) as exc:
                log.warning("queue consumer %s: %s", self.name, exc)
                await asyncio.sleep(0.5)

    async def _hand_over(self, key: Any, entries: list[Any]) -> bool:
        """Deliver then acknowledge; False once our consumer connection is gone."""
        for entry_id, fields in entries:
            if not fields:
                continue  # trimmed away while pending
            try:
                await self.deliver(orjson.loads(fields[b"v"]))
            except Exception:
                return False  # left pending: another consumer will claim it
            await self.redis.xack(key, GROUP, entry_id)
        return True

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        with contextlib.suppress(RedisError, OSError):
            for key in self.keys:
                if not await self.redis.xpending_range(key, GROUP, "-", "+", 1, self.name):
                    await self.redis.xgroup_delconsumer(key, GROUP, self.name)
