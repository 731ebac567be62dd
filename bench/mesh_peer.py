"""livescope's mesh beside python-socketio with its Redis manager, in one run on one machine.

    python bench/mesh_peer.py [PEER_PYTHON] [--connections 10000] [--subscribers 1000 10000]
                              [--deliveries 200000] [--rounds 3] [--sends 500]

PEER_PYTHON is a separate virtualenv's python with python-socketio, aiohttp and redis, e.g.
``python -m venv /tmp/socketio-peer && /tmp/socketio-peer/bin/pip install
'python-socketio[asyncio_client]' aiohttp redis``; without it only livescope is measured.

For each system, on the same redis-server and through the same two client processes
(bench/mesh_peer_clients.py, bare WebSocket connections):

1. idle connections: N connections to one grid node / server; its VmRSS growth per connection;
2. fan-out: S subscribers of one channel / room; rounds of 100-byte messages published through
   the back-end HTTP API of the first node, each round 200,000 deliveries by default (200
   messages to 1,000 subscribers, 20 to 10,000); deliveries/s from a round's first publish to
   its last receipt (median of the rounds) and the servers' CPU time per delivery; on one node (livescope's in-memory engine, socketio without a manager) and on two nodes
   through Redis (subscribers split between them, publisher on the first);
3. send latency, from the HTTP send to the client's receipt: to a client of the node that is
   asked (local) and of the other node (forwarded through Redis).

Every process started here is killed by its pid at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

BENCH = Path(__file__).resolve().parent
HOOKS = BENCH / "mesh_peer_hooks.py"
CLIENTS = BENCH / "mesh_peer_clients.py"
SIO_SERVER = BENCH / "peer_socketio_server.py"
CHANNEL = "fan"
START_TIMEOUT = 20.0
WAIT_TIMEOUT = 120.0


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    pass


class Processes:
    """The processes of one part of the run, each killed by its pid."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[asyncio.subprocess.Process] = []

    async def start(self, name: str, cmd: list[str], stdin: bool = False) -> Any:
        """Start ``cmd`` and wait for its line saying ``ready``; its stderr goes to a log."""
        with open(self.logs / f"{name}.log", "ab") as log:
            proc = await asyncio.create_subprocess_exec(
                *cmd,
                stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                limit=1 << 24,  # a reply carries up to 10,000 client ids on one line
            )
        self.started.append(proc)
        assert proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), deadline - time.monotonic())
            except asyncio.TimeoutError:
                line = b""
            if not line:
                raise BenchError(f"{name} did not start; see {self.logs / name}.log")
            if b"ready" in line.lower():
                return proc

    async def kill_all(self) -> None:
        for proc in self.started:
            if proc.returncode is None:
                os.kill(proc.pid, signal.SIGKILL)
        for proc in self.started:
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except asyncio.TimeoutError:
                print(f"process {proc.pid} did not exit after SIGKILL", file=sys.stderr)
        self.started = []


class Fleet:
    """One client process (bench/mesh_peer_clients.py), driven over its stdin/stdout."""

    def __init__(self, proc: Any) -> None:
        self.proc = proc

    async def call(self, op: str, **params: Any) -> dict[str, Any]:
        """Send one command; a ``wait`` is bounded by its ``seconds``, anything else by 2 min."""
        self.proc.stdin.write(json.dumps({"op": op, **params}).encode() + b"\n")
        await self.proc.stdin.drain()
        limit = params.get("seconds", WAIT_TIMEOUT) + 5
        line = await asyncio.wait_for(self.proc.stdout.readline(), limit)
        if not line:
            raise BenchError("a client process exited")
        reply = json.loads(line)
        if "error" in reply:
            raise BenchError(f"client process, {op}: {reply['error']}")
        return reply


@dataclass
class Server:
    pid: int
    api: str  # base URL of the back-end HTTP API
    client_port: int


async def post(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> Any:
    async with http.post(url, json=body, timeout=aiohttp.ClientTimeout(total=30)) as resp:
        return await resp.json(content_type=None)


class Livescope:
    name = "livescope mesh"
    flavour = "mesh"

    async def start(self, procs: Processes, name: str, redis_url: str | None) -> Server:
        api, client = free_port(), free_port()
        cmd = [sys.executable, "-m", "livescope", "mesh", "--api-port", str(api)]
        cmd += ["--client-port", str(client), "--hooks", str(HOOKS)]
        if redis_url:
            cmd += ["--redis", redis_url]
        proc = await procs.start(name, cmd)
        return Server(proc.pid, f"http://127.0.0.1:{api}", client)

    async def _call(self, http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> Any:
        reply = await post(http, url, body)
        if reply.get("E"):
            raise BenchError(f"{url}: {reply['E']}")
        return reply["r"]

    async def publish(self, http: aiohttp.ClientSession, server: Server, text: str) -> int | None:
        reply = await self._call(http, f"{server.api}/v1/mesh/publish", {"c": CHANNEL, "d": text})
        return reply["s"]

    async def send(
        self, http: aiohttp.ClientSession, server: Server, client_id: str, text: str
    ) -> None:
        await self._call(http, f"{server.api}/v1/mesh/send", {"c": client_id, "d": text})


class SocketIO:
    name = "python-socketio"
    flavour = "sio"

    def __init__(self, python: str) -> None:
        self.python = python

    async def start(self, procs: Processes, name: str, redis_url: str | None) -> Server:
        port = free_port()
        cmd = [self.python, str(SIO_SERVER), "--port", str(port)]
        if redis_url:
            cmd += ["--redis", redis_url]
        proc = await procs.start(name, cmd)
        return Server(proc.pid, f"http://127.0.0.1:{port}", port)

    async def publish(self, http: aiohttp.ClientSession, server: Server, text: str) -> int | None:
        await post(http, f"{server.api}/publish", {"c": CHANNEL, "d": text})
        return None  # socketio does not say how many clients were reached

    async def send(
        self, http: aiohttp.ClientSession, server: Server, client_id: str, text: str
    ) -> None:
        await post(http, f"{server.api}/send", {"c": client_id, "d": text})


System = Livescope | SocketIO


class Run:
    """The phases, run once per system; results kept as ``rows[measure][system] = (text, n)``."""

    def __init__(self, args: argparse.Namespace, http: aiohttp.ClientSession) -> None:
        self.args = args
        self.http = http
        self.fleets: list[Fleet] = []
        self.servers: list[Server] = []  # every server of the system being measured
        self.rows: dict[str, dict[str, tuple[str, float | None]]] = {}

    def record(self, measure: str, system: System, text: str, value: float | None) -> None:
        self.rows.setdefault(measure, {})[system.name] = (text, value)
        print(f"  {system.name}: {measure}: {text}", flush=True)

    async def open_spread(
        self, system: System, servers: list[Server], n: int, channel: str | None
    ) -> tuple[list[list[str]], float]:
        """Fleet i opens its share of ``n`` connections to server i mod len(servers)."""
        shares = [n // len(self.fleets)] * len(self.fleets)
        shares[-1] += n - sum(shares)
        calls = [
            fleet.call(
                "open",
                port=servers[i % len(servers)].client_port,
                n=share,
                flavour=system.flavour,
                join=channel,
            )
            for i, (fleet, share) in enumerate(zip(self.fleets, shares, strict=True))
        ]
        replies = await asyncio.gather(*calls)
        return [r["ids"] for r in replies], max(r["seconds"] for r in replies)

    async def drop(self) -> None:
        """Close every client connection, then wait until the servers have handled it (a
        server still busy with 10,000 disconnects would slow the next phase down)."""
        await asyncio.gather(*(fleet.call("drop") for fleet in self.fleets))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            before = sum(cpu_seconds(server.pid) for server in self.servers)
            await asyncio.sleep(0.5)
            if sum(cpu_seconds(server.pid) for server in self.servers) - before < 0.03:
                return

    async def counts(self) -> list[int]:
        return [(await fleet.call("count"))["count"] for fleet in self.fleets]

    # -- 1. idle connections ----------------------------------------------------------------
    async def idle(self, system: System, server: Server) -> None:
        n = self.args.connections
        await self.open_spread(system, [server], 200, None)  # warm the server's code paths
        await self.drop()
        before = rss_kb(server.pid)
        _, seconds = await self.open_spread(system, [server], n, None)
        await asyncio.sleep(2)
        after = rss_kb(server.pid)
        held = sum([(await fleet.call("count"))["open"] for fleet in self.fleets])
        await self.drop()
        self.record(
            "idle connections held by one node",
            system,
            f"{held:,} (opened in {seconds:.1f} s)",
            held,
        )
        per_conn = (after - before) / n
        self.record("memory per idle connection", system, f"{per_conn:.1f} KB", per_conn)

    # -- 2. fan-out -------------------------------------------------------------------------
    async def fanout(
        self, system: System, servers: list[Server], ids: list[list[str]], label: str
    ) -> None:
        subscribers = sum(len(i) for i in ids)
        expected = 0
        for _ in range(50):  # until every node's subscriptions are known to the grid
            reached = await system.publish(self.http, servers[0], "warm-up")
            expected += subscribers if reached is None else reached
            if reached is None or reached == subscribers:
                break
            await asyncio.sleep(0.1)
        else:
            raise BenchError(f"{system.name}: subscriptions never all registered")
        deadline = time.monotonic() + 30
        while sum(counts := await self.counts()) < expected:
            if time.monotonic() > deadline:
                raise BenchError(f"{system.name}: warm-up got {sum(counts)} of {expected}")
            await asyncio.sleep(0.05)
        measure = f"fan-out to {subscribers:,} subscribers, {label}"
        messages = max(1, self.args.deliveries // subscribers)
        rounds = []
        try:
            for _ in range(self.args.rounds):
                rounds.append(await self.fan_round(system, servers, ids, counts, messages))
                counts = [c + len(i) * messages for c, i in zip(counts, ids, strict=True)]
        except BenchError as exc:
            self.record(measure, system, f"incomplete: {exc}", None)
            return
        deliveries = subscribers * messages
        rates = sorted(deliveries / elapsed for elapsed, _, _ in rounds)
        rate = statistics.median(rates)
        text = f"{rate:,.0f}/s ({rates[0]:,.0f}–{rates[-1]:,.0f}; {messages} messages)"
        self.record(measure, system, text, rate)
        # CPU over all rounds: one round of 1,000 deliveries is a few clock ticks
        server_cpu = sum(cpu for _, cpu, _ in rounds) * 1e6 / (deliveries * len(rounds))
        client_cpu = sum(cpu for _, _, cpu in rounds) * 1e6 / (deliveries * len(rounds))
        text = f"{server_cpu:.0f} µs (clients {client_cpu:.0f} µs)"
        self.record(f"server CPU per delivery, {subscribers:,}, {label}", system, text, server_cpu)

    async def fan_round(
        self,
        system: System,
        servers: list[Server],
        ids: list[list[str]],
        counts: list[int],
        messages: int,
    ) -> tuple[float, float, float]:
        """Publish ``messages``; seconds to the last receipt, server and client CPU seconds."""
        for fleet, count, share in zip(self.fleets, counts, ids, strict=True):
            await fleet.call("expect", total=count + len(share) * messages)
        groups = ([server.pid for server in servers], [fleet.proc.pid for fleet in self.fleets])
        cpu_before = [sum(map(cpu_seconds, pids)) for pids in groups]
        started = time.monotonic()
        for m in range(messages):
            await system.publish(self.http, servers[0], f"{m:06d} " + "x" * 93)
        waits = [fleet.call("wait", seconds=WAIT_TIMEOUT) for fleet in self.fleets]
        replies = await asyncio.gather(*waits, return_exceptions=True)
        for reply in replies:  # raised only once every client process has answered
            if isinstance(reply, BaseException):
                raise reply
        server_cpu, client_cpu = (
            sum(map(cpu_seconds, pids)) - before
            for pids, before in zip(groups, cpu_before, strict=True)
        )
        return max(r["t"] for r in replies) - started, server_cpu, client_cpu

    # -- 3. send latency --------------------------------------------------------------------
    async def latency(
        self, system: System, asked: Server, fleet: Fleet, client_id: str, measure: str
    ) -> None:
        count = (await fleet.call("count"))["count"]
        samples = []
        for k in range(self.args.sends):
            count += 1
            await fleet.call("expect", total=count)
            started = time.monotonic()
            await system.send(self.http, asked, client_id, f"send {k}")
            received = (await fleet.call("wait", seconds=5))["t"]
            samples.append((received - started) * 1000)
        samples.sort()
        p50 = statistics.median(samples)
        p99 = samples[max(0, int(len(samples) * 0.99) - 1)]
        self.record(measure, system, f"p50 {p50:.2f} ms, p99 {p99:.2f} ms", p50)

    async def layout(self, system: System, servers: list[Server], label: str) -> None:
        for subscribers in self.args.subscribers:
            ids, _ = await self.open_spread(system, servers, subscribers, CHANNEL)
            try:
                await self.fanout(system, servers, ids, label)
                if subscribers == min(self.args.subscribers):
                    where = "one node" if len(servers) == 1 else "grid node"
                    measure = f"send → receipt, local ({where})"
                    await self.latency(system, servers[0], self.fleets[0], ids[0][0], measure)
                    if len(servers) > 1:
                        measure = "send → receipt, forwarded through Redis"
                        await self.latency(system, servers[0], self.fleets[1], ids[1][0], measure)
            finally:
                await self.drop()

    async def system(self, system: System, procs: Processes, redis_url: str) -> None:
        print(f"{system.name}:", flush=True)
        try:
            one = await system.start(procs, f"{system.flavour}-one", None)
            grid = [await system.start(procs, f"{system.flavour}-{n}", redis_url) for n in "ab"]
            self.servers = [one, *grid]
            await self.idle(system, grid[0])
            await self.layout(system, [one], "one node")
            await self.layout(system, grid, "two nodes through Redis")
        finally:
            await procs.kill_all()

    def table(self, systems: list[System]) -> str:
        head = ["measure", *(s.name for s in systems)]
        if len(systems) == 2:
            head.append("livescope ÷ peer")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        order = ("idle", "memory", "fan-out", "server", "send")
        for measure in sorted(self.rows, key=lambda m: order.index(m.split()[0])):
            cells = [self.rows[measure].get(s.name, ("—", None)) for s in systems]
            row = [measure, *(text for text, _ in cells)]
            if len(systems) == 2:
                ours, theirs = (value for _, value in cells)
                compared = ours and theirs and not measure.startswith(("idle", "send"))
                row.append(f"{ours / theirs:.2f}×" if compared else "")
            lines.append("| " + " | ".join(row) + " |")
        return "\n".join(lines)


def peer_status(python: str | None) -> str | None:
    """The peer's versions, or None when it cannot run python-socketio with Redis."""
    if not python:
        return None
    probe = "import platform,socketio,engineio,aiohttp,redis;from importlib.metadata import version"
    probe += ";print(platform.python_version(),version('python-socketio'),"
    probe += "version('python-engineio'),aiohttp.__version__,redis.__version__)"
    try:
        out = subprocess.run(
            [python, "-c", probe], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    py, sio, eio, aio, red = out.stdout.split()
    return f"Python {py}, python-socketio {sio}, python-engineio {eio}, aiohttp {aio}, redis {red}"


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0]
    return (
        f"{model}, {os.cpu_count()} cores, Linux {platform.release()}; load average {load:.1f} "
        f"at the start; {time.strftime('%Y-%m-%d')}"
    )


async def bench(args: argparse.Namespace) -> None:
    peer = peer_status(args.peer_python)
    systems: list[System] = [Livescope()]
    if peer:
        systems.append(SocketIO(args.peer_python))
    logs = Path(tempfile.mkdtemp(prefix="livescope-mesh-peer-"))
    print(f"machine: {machine()}")
    print(f"livescope side: Python {platform.python_version()}, aiohttp {aiohttp.__version__}")
    print(f"peer side: {peer}" if peer else "peer skipped: no PEER_PYTHON with python-socketio")
    print(f"logs: {logs}", flush=True)
    shared = Processes(logs)
    try:
        redis_port = free_port()
        redis_cmd = [shutil.which("redis-server") or "/usr/bin/redis-server"]
        redis_cmd += ["--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
        redis_cmd += ["--appendonly", "no"]
        await shared.start("redis", redis_cmd)
        version = subprocess.run(
            [redis_cmd[0], "--version"], capture_output=True, text=True, timeout=10
        )
        print(f"redis: {version.stdout.strip()}", flush=True)
        client_cmd = [sys.executable, str(CLIENTS)]
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            run = Run(args, http)
            run.fleets = [
                Fleet(await shared.start(f"clients-{n}", client_cmd, stdin=True)) for n in (1, 2)
            ]
            for system in systems:
                await run.system(system, Processes(logs), f"redis://127.0.0.1:{redis_port}/0")
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f}\n")
        print(run.table(systems))
    finally:
        await shared.kill_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("peer_python", nargs="?", help="python of a venv with python-socketio")
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--deliveries", type=int, default=200_000, help="per fan-out round")
    parser.add_argument("--rounds", type=int, default=3, help="fan-out rounds (median kept)")
    parser.add_argument("--sends", type=int, default=500)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by every process
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
