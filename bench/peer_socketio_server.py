"""The python-socketio side of bench/mesh_peer.py, run with the peer's own Python.

    PEER_PYTHON bench/peer_socketio_server.py --port P [--redis URL]

An aiohttp server with ``socketio.AsyncServer`` (``AsyncRedisManager`` with ``--redis``) and
the same back-end operations the mesh node's API offers: ``POST /publish {"c": room, "d":
text}`` emits event ``m`` to a room, ``POST /send {"c": sid, "d": text}`` to one client. A
client's ``join`` event puts it in a room and is acknowledged with its sid. Prints ``ready``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import socketio
from aiohttp import web


def build(redis_url: str | None) -> web.Application:
    manager = socketio.AsyncRedisManager(redis_url) if redis_url else None
    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager)

    @sio.on("join")
    async def join(sid: str, room: str) -> str:
        await sio.enter_room(sid, room)
        return sid

    async def publish(request: web.Request) -> web.Response:
        body = await request.json()
        await sio.emit("m", body["d"], room=body["c"])
        return web.json_response({"ok": True})

    async def send(request: web.Request) -> web.Response:
        body = await request.json()
        await sio.emit("m", body["d"], to=body["c"])
        return web.json_response({"ok": True})

    app = web.Application()
    sio.attach(app)
    app.router.add_post("/publish", publish)
    app.router.add_post("/send", send)
    return app


async def serve(port: int, redis_url: str | None) -> None:
    runner = web.AppRunner(build(redis_url), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    stopped = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    await stopped.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.redis))


if __name__ == "__main__":
    main()
