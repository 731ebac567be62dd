"""A process holding many WebSocket client connections for bench/mesh_peer.py.

The connections are bare asyncio protocols with a minimal WebSocket framing, so that 10,000 of
them cost the client process little CPU and both servers are driven by the same client code.
Two flavours: ``mesh`` (a livescope mesh client port: ``join CHANNEL`` is answered with
``joined ID`` by bench/mesh_peer_hooks.py) and ``sio`` (Engine.IO 4 / Socket.IO 5 over a
WebSocket: open packet, namespace connect, pings answered, ``join`` as an event with an ack).

Commands arrive as JSON lines on stdin and are answered as JSON lines on stdout:

- ``{"op": "open", "port": P, "n": N, "flavour": F, "join": CHANNEL|null}`` -> ``ids``
- ``{"op": "count"}`` -> deliveries so far and connections still open
- ``{"op": "expect", "total": T}`` then ``{"op": "wait", "seconds": S}`` -> ``t``, the
  ``time.monotonic()`` (system-wide on Linux) at which delivery number T arrived
- ``{"op": "drop"}`` closes every connection and starts counting from zero again
- ``{"op": "close"}`` closes everything and exits.

A delivery is any data message that is not protocol chatter (pong, ping, acks).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import sys
import time
from typing import Any

KEEPALIVE = 25.0  # the mesh node drops a client silent for 60 s
SIO_PATH = "/socket.io/?EIO=4&transport=websocket"
BATCH = 200


def frame(payload: bytes, opcode: int = 1) -> bytes:
    """A masked client frame (an all-zero mask leaves the payload as it is)."""
    size = len(payload)
    if size < 126:
        head = bytes([0x80 | opcode, 0x80 | size])
    elif size < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + size.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


class Fleet:
    """Delivery counting shared by every connection of this process."""

    def __init__(self) -> None:
        self.conns: list[Connection] = []
        self.count = 0
        self.goal = -1
        self.reached = asyncio.Event()
        self.reached_at = 0.0

    def delivered(self) -> None:
        self.count += 1
        if self.count == self.goal:
            self.reached_at = time.monotonic()
            self.reached.set()

    async def drop(self) -> None:
        for conn in self.conns:
            conn.close()
        for _ in range(100):  # up to 10 s for every transport to report itself closed
            if not any(conn.open for conn in self.conns):
                break
            await asyncio.sleep(0.1)
        self.conns, self.count, self.goal = [], 0, -1

    def expect(self, total: int) -> None:
        self.goal = total
        self.reached = asyncio.Event()
        if self.count >= total:
            self.reached_at = time.monotonic()
            self.reached.set()


class Connection(asyncio.Protocol):
    def __init__(self, fleet: Fleet, flavour: str, host: str, port: int) -> None:
        self.fleet = fleet
        self.flavour = flavour
        self.target = f"{host}:{port}"
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.open = False
        self.ready = asyncio.get_running_loop().create_future()
        self.joined: asyncio.Future[str] | None = None

    # -- transport --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.open = True
        path = SIO_PATH if self.flavour == "sio" else "/bench"
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET {path} HTTP/1.1\r\nHost: {self.target}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        for future in (self.ready, self.joined):
            if future is not None and not future.done():
                future.set_exception(ConnectionError("connection lost"))

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(ConnectionError(bytes(buf[:end]).decode()))
                return
            del buf[: end + 4]
            self.upgraded = True
            if self.flavour == "mesh":
                self.ready.set_result(None)
        pos = 0
        while len(buf) - pos >= 2:
            size = buf[pos + 1] & 0x7F
            start = pos + 2
            if size == 126:
                size, start = int.from_bytes(buf[start : start + 2], "big"), start + 2
            elif size == 127:
                size, start = int.from_bytes(buf[start : start + 8], "big"), start + 8
            if len(buf) < start + size:
                break
            opcode = buf[pos] & 0x0F
            payload = bytes(buf[start : start + size])
            pos = start + size
            if opcode in (1, 2):
                self.on_message(payload)
            elif opcode == 9:
                self.send(payload, opcode=10)
            elif opcode == 8 and self.transport is not None:
                self.transport.close()
        del buf[:pos]

    def send(self, payload: bytes, opcode: int = 1) -> None:
        if self.transport is not None and self.open:
            self.transport.write(frame(payload, opcode))

    # -- the two flavours -------------------------------------------------------------------
    def on_message(self, payload: bytes) -> None:
        if self.flavour == "mesh":
            if payload == b"pong":
                return
            if payload.startswith(b"joined ") and self.joined is not None:
                self.joined.set_result(payload[7:].decode())
                return
        else:
            kind = payload[:2]
            if payload == b"2":
                self.send(b"3")  # Engine.IO ping
                return
            if kind == b"0{":
                self.send(b"40")  # connect to the default namespace
                return
            if kind == b"40":
                self.ready.set_result(None)
                return
            if kind == b"43" and self.joined is not None:
                self.joined.set_result(json.loads(payload[payload.index(b"[") :])[0])
                return
            if kind != b"42":
                return
        self.fleet.delivered()

    def join(self, channel: str) -> asyncio.Future[str]:
        self.joined = asyncio.get_running_loop().create_future()
        if self.flavour == "mesh":
            self.send(f"join {channel}".encode())
        else:
            self.send(b"420" + json.dumps(["join", channel]).encode())
        return self.joined

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_connections(
    fleet: Fleet, port: int, n: int, flavour: str, channel: str | None
) -> list[str]:
    loop = asyncio.get_running_loop()

    async def one() -> str:
        _, conn = await loop.create_connection(
            lambda: Connection(fleet, flavour, "127.0.0.1", port), "127.0.0.1", port
        )
        fleet.conns.append(conn)
        await conn.ready
        return await conn.join(channel) if channel else ""

    ids: list[str] = []
    for start in range(0, n, BATCH):
        batch = [one() for _ in range(min(BATCH, n - start))]
        ids += await asyncio.wait_for(asyncio.gather(*batch), 60)
    return ids


async def keepalive(fleet: Fleet) -> None:
    while True:
        await asyncio.sleep(KEEPALIVE)
        for conn in fleet.conns:
            if conn.flavour == "mesh":
                conn.send(b"ping")


async def handle(fleet: Fleet, command: dict[str, Any]) -> dict[str, Any]:
    op = command["op"]
    if op == "open":
        started = time.monotonic()
        ids = await open_connections(
            fleet, command["port"], command["n"], command["flavour"], command.get("join")
        )
        return {"ids": ids, "seconds": time.monotonic() - started}
    if op == "count":
        return {"count": fleet.count, "open": sum(c.open for c in fleet.conns)}
    if op == "expect":
        fleet.expect(command["total"])
        return {}
    if op == "wait":
        try:
            await asyncio.wait_for(fleet.reached.wait(), command["seconds"])
        except asyncio.TimeoutError:
            return {"error": f"timed out at {fleet.count} of {fleet.goal}"}
        return {"t": fleet.reached_at}
    if op == "drop":
        await fleet.drop()
        return {}
    raise ValueError(f"unknown op {op!r}")


async def serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    fleet = Fleet()
    pinger = loop.create_task(keepalive(fleet))
    print(json.dumps({"ready": True}), flush=True)
    while line := await reader.readline():
        command = json.loads(line)
        if command["op"] == "close":
            break
        try:
            reply = await handle(fleet, command)
        except Exception as exc:  # reported to the driver, which stops the run
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), flush=True)
    pinger.cancel()
    for conn in fleet.conns:
        conn.close()
    await asyncio.sleep(0.2)  # let the close frames' TCP FINs go out


def main() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(serve())


if __name__ == "__main__":
    main()
