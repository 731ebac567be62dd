"""API latency: result → waiting ``pull_results``, and one-shot ``exec version`` throughput.

Starts a real target process with the agent, then measures

1. the delay from a command emitting a result (its timestamp) to a long poll that was already
   waiting returning it over HTTP. The API holds a pull open for a 100 ms quiet gap after the
   first result (reference §4.7), so the figure that matters is the overhead beyond that gap;
2. sequential one-shot ``exec version`` requests: requests/s and p50/p99 round trip.

Usage: ``python bench/api_latency.py [--samples 60] [--execs 300]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
GAP_MS = 100.0

TARGET = """
import os, time, livescope
from livescope.commands.base import Command
from livescope.commands.registry import register
from livescope.commands.spec import Argument, Option
from livescope.model.common import MessageModel

livescope.start(port=int(os.environ["BENCH_PORT"]))


@register
class Tick(Command):
    name = "tick"
    summary = "Emit COUNT timestamps, one every INTERVAL seconds"
    arguments = (Argument("count", type=int),)
    options = (Option("interval", "i", type=float, default=0.3),)

    def run(self, ctx, args):
        for _ in range(args.count):
            if ctx.wait(args.interval):
                return
            ctx.emit(MessageModel(message=repr(time.time())))


while True:
    time.sleep(1)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(port: int, payload: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api", data=json.dumps(payload).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def wait_for_port(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("target exited before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("target did not listen")


def pull_latency(port: int, samples: int) -> list[float]:
    session = api(port, {"action": "init_session"})
    ids = {"sessionId": session["sessionId"], "consumerId": session["consumerId"]}
    api(port, {"action": "pull_results", **ids})  # the welcome items
    api(port, {"action": "async_exec", "command": f"tick {samples} -i 0.3", **ids})
    delays: list[float] = []
    while len(delays) < samples:
        reply = api(port, {"action": "pull_results", **ids})
        now = time.time()
        for item in reply["body"]["results"]:
            if item["type"] == "message":
                delays.append((now - float(item["message"])) * 1000)
    api(port, {"action": "close_session", "sessionId": ids["sessionId"]})
    return delays


def exec_round_trips(port: int, count: int) -> tuple[list[float], float]:
    times: list[float] = []
    started = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        reply = api(port, {"action": "exec", "command": "version"})
        times.append((time.perf_counter() - t0) * 1000)
        assert reply["state"] == "SUCCEEDED", reply
    return times, count / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--execs", type=int, default=300)
    options = parser.parse_args()
    port = free_port()
    script = Path(tempfile.mkdtemp(prefix="livescope-bench-")) / "target.py"
    script.write_text(TARGET)
    env = dict(os.environ, BENCH_PORT=str(port), PYTHONPATH=str(SRC))
    proc = subprocess.Popen([sys.executable, str(script)], env=env)
    try:
        wait_for_port(port, proc)
        api(port, {"action": "exec", "command": "version"})  # warm up imports
        delays = pull_latency(port, options.samples)
        times, rate = exec_round_trips(port, options.execs)
    finally:
        proc.kill()
        proc.wait()
    p50, p99 = percentile(delays, 0.5), percentile(delays, 0.99)
    print(f"python {platform.python_version()} on {platform.machine()} {platform.system()}")
    print(
        f"result -> waiting pull_results ({len(delays)} samples): "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"(beyond the 100 ms quiet gap: p50 {p50 - GAP_MS:.1f} ms, p99 {p99 - GAP_MS:.1f} ms)"
    )
    print(
        f"one-shot exec version ({len(times)} sequential): {rate:.0f} req/s, "
        f"p50 {percentile(times, 0.5):.1f} ms, p99 {percentile(times, 0.99):.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
