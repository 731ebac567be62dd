"""What a sampling profiler costs the code it samples: livescope's `profiler` beside py-spy's.

    python bench/profiler_overhead.py [--rounds 21] [--iterations N] [--python PATH] [--py-spy PATH]

Every run is a fresh target process doing a fixed amount of pure-Python work on a thread of its
own, 20 frames deep (so each sample walks a realistic stack), after one unmeasured warm-up pass;
the target times the work itself. Configurations:

- no profiler: a plain interpreter;
- livescope agent started, no profiler;
- livescope `profiler start --interval 10` / `--interval 1` sent over the agent's HTTP API, as a
  user would (the command runs the Sampler thread inside the target), stopped over the API after;
- py-spy `record --rate 100` / `--rate 1000 --pid PID` attached from outside once the target is
  ready (py-spy pauses the target while it reads each stack; it needs ptrace, so run as root).
  Without a py-spy executable its rows are skipped with a note.

Rounds run every configuration once, in an order rotated each round, so that the drift of a
shared machine hits all alike. Each overhead is the median over rounds of the run against the
no-profiler run of the same round, with the min … max of those (for the no-profiler row: its
runs against their median). Two times: the wall time the target saw, and that wall time less
the worker thread's run-queue wait (runnable but without a CPU, from Linux schedstat), which
takes out most of what other load on the machine adds but keeps what a profiler costs (holding
the GIL, pausing the process). "worker held up" is the share of the wall time the worker thread
neither ran nor waited for a CPU: the time it waited for the GIL (or was stopped by py-spy),
the part of a profiler's cost that does not drown in the speed swings of a shared machine
(the rest is the worker running slower afterwards, on caches the sampler disturbed).
"profiler's own CPU" is the sampler's CPU (the target's CPU
beside the worker's) per second of work, or py-spy's CPU per second of its life.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
STEP_TIMEOUT = 120.0  # seconds any one step (start, attach, work, detach) may take

TARGET = r"""
import json, os, sys, threading, time

ITERATIONS = int(sys.argv[2])

def schedstat():  # seconds this thread ran, and was runnable but waited for a CPU (Linux)
    try:
        with open("/proc/thread-self/schedstat") as f:
            ran, waited = f.read().split()[:2]
            return int(ran) / 1e9, int(waited) / 1e9
    except (OSError, ValueError):
        return float("nan"), float("nan")

def work(depth, out, iterations):
    if depth:
        return work(depth - 1, out, iterations)
    wall, cpu, proc = time.perf_counter(), time.thread_time(), time.process_time()
    ran, queued = schedstat()
    x = 0
    for i in range(iterations):
        x += i % 7
    ran_after, queued_after = schedstat()
    out.update(
        elapsed=time.perf_counter() - wall,
        ran=ran_after - ran,
        queued=queued_after - queued,
        cpu=time.thread_time() - cpu,
        process_cpu=time.process_time() - proc,
    )

# once unmeasured first: a cold process ran this loop ~7 % slower, or faster, depending on what
# else ran (on 3.12 here), which drowned the differences sought
work(20, {}, ITERATIONS // 4)
port = 0
if sys.argv[1] == "agent":
    import livescope
    port = livescope.start(port=0).port
print(json.dumps({"pid": os.getpid(), "port": port}), flush=True)
sys.stdin.readline()  # go: the profiler is attached
result = {}
worker = threading.Thread(target=work, args=(20, result, ITERATIONS), name="worker")
worker.start()
worker.join()
print(json.dumps(result), flush=True)
sys.stdin.readline()  # the profiler is detached (or EOF)
if port:
    livescope.stop()
"""


@dataclass(frozen=True)
class Config:
    label: str
    tool: str  # "none", "agent", "livescope" or "py-spy"
    rate: int = 0  # samples per second asked for


class Lines:
    """The lines of a child's stream, read by a daemon thread so waits can have a deadline."""

    def __init__(self, stream) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, needle: str, timeout: float = STEP_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no line with {needle!r} in {timeout:.0f} s") from None
            if line is None:
                raise EOFError(f"stream ended before {needle!r}: {''.join(self.seen)[-500:]}")
            self.seen.append(line)
            if needle in line:
                return line


def api(port: int, command: str) -> dict:
    body = json.dumps({"action": "exec", "command": command}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=STEP_TIMEOUT) as response:
        reply = json.load(response)
    profiler = [r for r in reply["body"]["results"] if r["type"] == "profiler"]
    if reply["state"] != "SUCCEEDED" or not profiler:
        raise RuntimeError(f"{command!r} failed: {reply}")
    return profiler[0]


def wait_with_rusage(proc: subprocess.Popen, timeout: float) -> float:
    """Reap ``proc`` (killing it past ``timeout``); the CPU seconds it used."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            proc.kill()
            deadline = float("inf")
        time.sleep(0.02)


def run_once(config: Config, python: str, iterations: int, py_spy: str | None) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        return _run_in(scratch, config, python, iterations, py_spy)


def _run_in(scratch: str, config: Config, python: str, iterations: int, py_spy: str | None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    mode = "plain" if config.tool in ("none", "py-spy") else "agent"
    target = subprocess.Popen(
        [python, "-c", TARGET, mode, str(iterations)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    spy = None
    try:
        out = Lines(target.stdout)
        ready = json.loads(out.wait_for("pid"))
        port = ready["port"]
        if config.tool == "livescope":
            api(port, f"profiler start --interval {1000 / config.rate:g}")
            before = api(port, "profiler status")["samples"]
        elif config.tool == "py-spy":
            spy_started = time.monotonic()
            spy = subprocess.Popen(
                [py_spy, "record", "--rate", str(config.rate), "--pid", str(ready["pid"])]
                + ["--format", "raw", "-o", os.path.join(scratch, "py-spy.txt")],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            spy_out = Lines(spy.stdout)
            spy_out.wait_for("Sampling process")
        target.stdin.write("go\n")
        target.stdin.flush()
        result = json.loads(out.wait_for("elapsed"))
        result["samples"] = 0
        if config.tool == "livescope":
            result["samples"] = api(port, "profiler status")["samples"] - before
            api(port, f"profiler stop --format collapsed -f {scratch}/livescope.txt")
            # the sampler thread (and the idle agent) run inside the target, beside the worker
            result["profiler_cpu"] = (result["process_cpu"] - result["cpu"]) / result["elapsed"]
        target.stdin.close()
        target.wait(timeout=STEP_TIMEOUT)
        if spy is not None:
            line = spy_out.wait_for("Samples:")
            result["samples"] = int(line.split("Samples:")[1].split()[0])
            cpu = wait_with_rusage(spy, STEP_TIMEOUT)
            result["profiler_cpu"] = cpu / (time.monotonic() - spy_started)
        return result
    finally:
        for proc in (spy, target):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def paired(runs: dict[int, dict], base_runs: dict[int, dict], measure) -> str:
    """Median (min … max) overhead of ``measure`` against the no-profiler run of each round."""
    ratios = sorted(
        100 * (measure(r) / measure(base_runs[n]) - 1) for n, r in runs.items() if n in base_runs
    )
    if runs is base_runs:  # the baseline's own spread, against its median
        middle = statistics.median(measure(r) for r in runs.values())
        ratios = sorted(100 * (measure(r) / middle - 1) for r in runs.values())
    return f"{statistics.median(ratios):+.1f} % ({ratios[0]:+.0f} … {ratios[-1]:+.0f})"


def row(config: Config, runs: dict[int, dict], base_runs: dict[int, dict]) -> str:
    def wall(r: dict) -> float:
        return r["elapsed"]

    def unqueued(r: dict) -> float:
        return r["elapsed"] - r["queued"]

    def held_up(r: dict) -> float:  # share of the wall time the worker neither ran nor queued
        return (r["elapsed"] - r["ran"] - r["queued"]) / r["elapsed"]

    held = sorted(100 * held_up(r) for r in runs.values())
    samples = statistics.median(r["samples"] / r["elapsed"] for r in runs.values())
    own = [r["profiler_cpu"] for r in runs.values() if "profiler_cpu" in r]
    cells = [
        config.label,
        str(len(runs)),
        f"{samples:.0f}" if config.rate else "—",
        f"{statistics.median(map(wall, runs.values())) * 1000:.0f} ms",
        paired(runs, base_runs, wall),
        f"{statistics.median(map(unqueued, runs.values())) * 1000:.0f} ms",
        paired(runs, base_runs, unqueued),
        f"{statistics.median(held):.2f} % ({held[0]:.2f} … {held[-1]:.2f})",
        f"{100 * statistics.median(own):.1f} %" if own else "—",
    ]
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21, help="runs per configuration")
    parser.add_argument("--iterations", type=int, default=12_000_000, help="work per run")
    parser.add_argument("--python", default=sys.executable, help="the targets' interpreter")
    default_spy = "/tmp/fpvenv/bin/py-spy"
    parser.add_argument(
        "--py-spy",
        default=default_spy if os.path.exists(default_spy) else shutil.which("py-spy"),
        help="py-spy executable (its rows are skipped without one)",
    )
    args = parser.parse_args()
    configs = [
        Config("no profiler", "none"),
        Config("livescope agent, profiler off", "agent"),
        Config("livescope `profiler start --interval 10` (100 Hz)", "livescope", 100),
        Config("livescope `profiler start --interval 1` (1000 Hz)", "livescope", 1000),
    ]
    notes = []
    if args.py_spy and os.access(args.py_spy, os.X_OK):
        configs += [
            Config("py-spy `record --rate 100`", "py-spy", 100),
            Config("py-spy `record --rate 1000`", "py-spy", 1000),
        ]
    else:
        notes.append("py-spy not found (--py-spy PATH): its rows are skipped")
    runs: dict[Config, dict[int, dict]] = {c: {} for c in configs}
    started = time.monotonic()
    for round_no in range(args.rounds):
        shift = round_no % len(configs)
        for config in configs[shift:] + configs[:shift]:
            try:
                result = run_once(config, args.python, args.iterations, args.py_spy)
                runs[config][round_no] = result
            except (RuntimeError, TimeoutError, EOFError, OSError) as exc:
                notes.append(f"{config.label}, round {round_no + 1}: {exc}")
        print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    took = time.monotonic() - started

    print(
        "| configuration | runs | samples/s | wall | overhead | wall − run-queue wait "
        "| overhead | worker held up | profiler's own CPU |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for config in configs:
        if runs[config] and runs[configs[0]]:
            print(row(config, runs[config], runs[configs[0]]))
        else:
            print(f"| {config.label} | {len(runs[config])} | no figures |")
    queued = [r["queued"] / r["elapsed"] for c in configs for r in runs[c].values()]
    print(
        f"\nThe worker waited for a CPU {100 * statistics.median(queued):.0f} % of its wall time "
        f"(median; {100 * min(queued):.0f} … {100 * max(queued):.0f} %)."
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{platform.python_implementation()} {platform.python_version()} targets, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}, "
        f"{args.rounds} rounds of {args.iterations:,} iterations in {took:.0f} s, "
        f"load average now {load}"
    )
    for note in notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
