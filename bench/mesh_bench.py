"""Mesh node figures on loopback: idle connections held and memory per connection, publish
fan-out deliveries per second, and ``mesh.send`` latency.

    python bench/mesh_bench.py [--connections 2000] [--subscribers 1000] [--messages 20]

Starts its own in-memory node (``python -m livescope mesh``) and kills it by pid at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time

import aiohttp
import orjson


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise TimeoutError(port)


async def bench(args: argparse.Namespace) -> None:
    api_port, client_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "livescope", "mesh", "--api-port", str(api_port)]
    node = subprocess.Popen(cmd + ["--client-port", str(client_port)], stdout=subprocess.DEVNULL)
    try:
        await wait_port(api_port)
        await wait_port(client_port)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            await run(http, node.pid, api_port, client_port, args)
    finally:
        os.kill(node.pid, signal.SIGKILL)
        node.wait()


async def run(http: aiohttp.ClientSession, pid: int, api_port: int, client_port: int, args) -> None:
    api = await http.ws_connect(f"http://127.0.0.1:{api_port}/ws/v1")
    await api.send_str(orjson.dumps({"m": "queue.pop", "p": {"t": ["bench"]}, "i": 0}).decode())
    await api.receive()
    base = rss_kb(pid)
    clients = []
    started = time.perf_counter()
    for start in range(0, args.connections, 200):
        batch = [
            http.ws_connect(f"http://127.0.0.1:{client_port}/bench", autoping=True)
            for _ in range(min(200, args.connections - start))
        ]
        clients += await asyncio.gather(*batch)
    opened = time.perf_counter() - started
    await asyncio.sleep(1)
    per_conn = (rss_kb(pid) - base) / args.connections
    print(
        f"idle connections: {args.connections} opened in {opened:.1f} s, "
        f"node RSS +{per_conn:.1f} KB per connection"
    )

    subscribers = clients[: args.subscribers]
    for ws in subscribers:
        await ws.send_str("hello")
    ids = []
    while len(ids) < len(subscribers):
        ids.append(orjson.loads((await api.receive()).data)["p"]["c"])
    for n, client_id in enumerate(ids):
        call = {"c": client_id, "f": "subscribe", "a": ["fan"]}
        await api.send_str(orjson.dumps({"m": "conn.call", "p": call, "i": n}).decode())
        await api.receive()

    async def drain(ws: aiohttp.ClientWebSocketResponse, count: int) -> None:
        for _ in range(count):
            await ws.receive()

    readers = [asyncio.ensure_future(drain(ws, args.messages)) for ws in subscribers]
    started = time.perf_counter()
    sent = 0
    for n in range(args.messages):
        body = {"c": "fan", "d": f"message {n} " + "x" * 100}
        async with http.post(f"http://127.0.0.1:{api_port}/v1/mesh/publish", json=body) as resp:
            sent += (await resp.json())["r"]["s"]
    await asyncio.gather(*readers)
    elapsed = time.perf_counter() - started
    print(
        f"publish fan-out: {args.messages} x {len(subscribers)} subscribers = {sent} "
        f"deliveries in {elapsed:.2f} s = {sent / elapsed:,.0f} deliveries/s"
    )

    target = subscribers[0]
    latencies = []
    for n in range(args.sends):
        t0 = time.perf_counter()
        body = {"c": ids[0], "d": f"s{n}"}
        async with http.post(f"http://127.0.0.1:{api_port}/v1/mesh/send", json=body) as resp:
            await resp.read()
        await target.receive()
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(
        f"mesh.send to receipt ({args.sends} sequential): p50 {statistics.median(latencies):.2f} ms"
        f", p99 {p99:.2f} ms"
    )
    for ws in clients:
        await ws.close()
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cpus; Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--sends", type=int, default=300)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
