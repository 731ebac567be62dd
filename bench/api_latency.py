"""API latency: result → waiting ``pull_results``, and one-shot ``exec version`` throughput.

Starts real target processes with the agent, then measures

1. the delay from a command emitting a result (its timestamp) to a long poll that was already
   waiting returning it over HTTP (a lone result: the pull ends at a 20 ms quiet gap);
2. a burst of results emitted back to back: how many pulls bring it back, and the delay from
   the burst's last result to the reply that carries it;
3. sequential one-shot ``exec version`` requests, with a new connection per request (as Arthas
   answers) and over one kept-alive connection (agent started with ``keep_alive=True``):
   requests/s and p50/p99 round trip.

Usage: ``python bench/api_latency.py [--samples 200] [--bursts 20] [--execs 300]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
READY = "bench commands registered"
BURST = 15
# Each phase is bounded, so a lost result or a dead target ends the run instead of hanging it.
PHASE_LIMIT = 120.0

TARGET = f"""
import os, sys, time, livescope
from livescope.commands.base import Command
from livescope.commands.registry import register
from livescope.commands.spec import Argument, Option
from livescope.model.common import MessageModel

livescope.start(port=int(os.environ["BENCH_PORT"]), keep_alive=os.environ["BENCH_KEEP_ALIVE"] == "1")


@register
class Tick(Command):
    name = "tick"
    summary = "Emit COUNT bursts of SIZE timestamps, one burst every INTERVAL seconds"
    arguments = (Argument("count", type=int),)
    options = (
        Option("interval", "i", type=float, default=0.3),
        Option("size", "s", type=int, default=1),
    )

    def run(self, ctx, args):
        for _ in range(args.count):
            if ctx.wait(args.interval):
                return
            for _ in range(args.size):
                ctx.emit(MessageModel(message=repr(time.time())))


print({READY!r}, flush=True)
while True:
    time.sleep(1)
"""


class Target:
    """One target process; the commands are registered once it prints its ready line."""

    def __init__(self, keep_alive: bool) -> None:
        self.port = free_port()
        script = Path(tempfile.mkdtemp(prefix="livescope-bench-")) / "target.py"
        script.write_text(TARGET)
        env = dict(
            os.environ,
            BENCH_PORT=str(self.port),
            BENCH_KEEP_ALIVE="1" if keep_alive else "0",
            PYTHONPATH=str(SRC),
            PYTHONUNBUFFERED="1",
        )
        self.proc = subprocess.Popen(
            [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if READY not in line:
            self.close()
            raise SystemExit(f"target did not start: {line!r}")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(conn: http.client.HTTPConnection, payload: dict) -> dict:
    conn.request("POST", "/api", body=json.dumps(payload).encode())
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise SystemExit(f"HTTP {response.status}: {data[:200]!r}")
    return json.loads(data)


def api(port: int, payload: dict) -> dict:
    """One request on a fresh connection (closed by the agent after the response)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        return post(conn, payload)
    finally:
        conn.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def pull_phase(port: int, command: str, expected: int) -> list[tuple[float, list[float]]]:
    """Run ``command`` and pull until its status: per reply, (arrival time, item timestamps)."""
    session = api(port, {"action": "init_session"})
    ids = {"sessionId": session["sessionId"], "consumerId": session["consumerId"]}
    api(port, {"action": "pull_results", **ids})  # the welcome items
    scheduled = api(port, {"action": "async_exec", "command": command, **ids})
    if scheduled["state"] != "SCHEDULED":
        raise SystemExit(f"async_exec failed: {scheduled}")
    job = scheduled["body"]["jobId"]
    replies: list[tuple[float, list[float]]] = []
    seen = 0
    deadline = time.monotonic() + PHASE_LIMIT
    try:
        while time.monotonic() < deadline:
            reply = api(port, {"action": "pull_results", **ids})
            now = time.time()
            items = reply["body"]["results"]
            stamps = [float(i["message"]) for i in items if i["type"] == "message"]
            if stamps:
                replies.append((now, stamps))
                seen += len(stamps)
            if any(i["type"] == "status" and i["jobId"] == job for i in items):
                break
        else:
            raise SystemExit(f"{command}: no status after {PHASE_LIMIT}s")
    finally:
        api(port, {"action": "close_session", "sessionId": ids["sessionId"]})
    if seen != expected:
        raise SystemExit(f"{command}: {seen} results arrived, {expected} were emitted")
    return replies


def lone_result_delays(port: int, samples: int) -> list[float]:
    replies = pull_phase(port, f"tick {samples} -i 0.15", samples)
    return [(now - stamp) * 1000 for now, stamps in replies for stamp in stamps]


def burst_figures(port: int, bursts: int) -> tuple[list[int], list[float]]:
    """Pulls needed per burst, and the delay from each burst's last result to its last reply."""
    replies = pull_phase(port, f"tick {bursts} -i 0.4 -s {BURST}", bursts * BURST)
    pulls: list[int] = []
    delays: list[float] = []
    pending = 0
    for now, stamps in replies:
        if pending == 0:
            pulls.append(0)
        pulls[-1] += 1
        pending = (pending + len(stamps)) % BURST
        if pending == 0:
            delays.append((now - stamps[-1]) * 1000)
    return pulls, delays


def exec_round_trips(port: int, count: int, keep_alive: bool) -> tuple[list[float], float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times: list[float] = []
    started = time.perf_counter()
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            reply = post(conn, {"action": "exec", "command": "version"})
            times.append((time.perf_counter() - t0) * 1000)
            if reply["state"] != "SUCCEEDED":
                raise SystemExit(f"exec failed: {reply}")
            if not keep_alive:
                conn.close()  # the agent closed its side; the next request connects again
    finally:
        conn.close()
    return times, count / (time.perf_counter() - started)


def summary(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5):.1f} ms, p99 {percentile(values, 0.99):.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--bursts", type=int, default=20)
    parser.add_argument("--execs", type=int, default=300)
    options = parser.parse_args()
    target = Target(keep_alive=False)
    try:
        api(target.port, {"action": "exec", "command": "version"})  # warm up imports
        delays = lone_result_delays(target.port, options.samples)
        pulls, burst_delays = burst_figures(target.port, options.bursts)
        closed, closed_rate = exec_round_trips(target.port, options.execs, keep_alive=False)
    finally:
        target.close()
    target = Target(keep_alive=True)
    try:
        api(target.port, {"action": "exec", "command": "version"})
        kept, kept_rate = exec_round_trips(target.port, options.execs, keep_alive=True)
    finally:
        target.close()
    print(f"python {platform.python_version()} on {platform.machine()} {platform.system()}")
    print(f"lone result -> waiting pull_results ({len(delays)} samples): {summary(delays)}")
    print(
        f"bursts of {BURST} ({len(pulls)} bursts): pulls per burst "
        f"max {max(pulls)}, mean {sum(pulls) / len(pulls):.2f}; "
        f"last result -> reply {summary(burst_delays)}"
    )
    print(
        f"one-shot exec version, new connection each ({len(closed)}): "
        f"{closed_rate:.0f} req/s, {summary(closed)}"
    )
    print(
        f"one-shot exec version, keep-alive ({len(kept)}): {kept_rate:.0f} req/s, {summary(kept)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
