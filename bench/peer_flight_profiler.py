"""livescope beside PyFlightProfiler, in one run, on the same targets and interpreter.

1. Scenarios on a tiny hot function (attached idle, a never-true ``watch``, ``watch -n 5`` and
   ``tt -t -n 5`` after their hits, ``trace`` of a function with ten children): the target's
   calls/s before, during and after, each on a fresh target.
2. Attach cycles on an idle and on a busy target: successes, failures, crashes, attach time.

PyFlightProfiler has to be importable by the target's own interpreter, so both tools run
against targets started with the interpreter of PYTHON, a virtualenv with
``pip install flight-profiler`` (livescope reaches the target through its attach path).

Usage: python bench/peer_flight_profiler.py PYTHON [--seconds 3] [--cycles 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

# Bursts of calls with a short sleep between them: PyFlightProfiler cannot attach to a
# target that never releases the GIL, so the hot loop gives it a chance every 10 ms.
# The loop calls the function by its module-level name, so a tool that replaces that name
# (PyFlightProfiler's wrappers) sees the calls; {name} is hot or parent.
HOT_TARGET = """\
import time
def hot(x):
    return x + 1
def parent(x):  # about ten child calls, for trace
    return hot(hot(hot(hot(hot(x))))) + hot(hot(hot(hot(hot(x)))))
print("ready", flush=True)
while True:
    busy, calls, started = 0.0, 0, time.perf_counter()
    while time.perf_counter() - started < 0.5:
        burst = time.perf_counter()
        for i in range(2000):
            {name}(i)
        busy += time.perf_counter() - burst
        calls += 2000
        time.sleep(0.001)
    print(f"rate {{calls / busy:.0f}}", flush=True)
"""
# (label, function the target calls, livescope command, PyFlightProfiler command); None: no
# command, only attached
SCENARIOS = (
    ("attached, idle", "hot", None, None),
    (
        "watch, condition never true",
        "hot",
        "watch __main__ hot params 'params[0] < 0'",
        "watch __main__ hot -f args[0]<0",
    ),
    ("watch -n 5, after its 5 hits", "hot", "watch __main__ hot -n 5", "watch __main__ hot -n 5"),
    ("tt -t -n 5, after its 5 hits", "hot", "tt -t __main__ hot -n 5", "tt -t __main__ hot -n 5"),
    (
        "trace parent (10 children)",
        "parent",
        "trace __main__ parent '#cost > 100000'",
        "trace __main__ parent -i 100000",
    ),
)
IDLE_TARGET = "import time\nprint('ready', flush=True)\nwhile True:\n    time.sleep(0.1)\n"
BUSY_TARGET = "print('ready', flush=True)\nwhile True:\n    sum(range(1000))\n"


class Target:
    def __init__(self, python: str, source: str) -> None:
        script = Path(tempfile.mkdtemp(prefix="livescope-peer-")) / "main.py"
        script.write_text(source)
        self.proc = subprocess.Popen(
            [python, "-u", str(script)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"
        self.rates: list[float] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("rate "):
                self.rates.append(float(line.split()[1]))

    def rate(self, seconds: float) -> float:
        """Median calls/s the target reports over the next ``seconds``."""
        time.sleep(0.6)  # skip the half-second window already running
        first = len(self.rates)
        time.sleep(seconds)
        return statistics.median(self.rates[first:]) if len(self.rates) > first else 0.0

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.alive:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def livescope_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "livescope", *args], capture_output=True, text=True, timeout=timeout
    )


def api(url: str, payload: dict) -> dict:
    request = urllib.request.Request(url + "/api", data=json.dumps(payload).encode())
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def flight_profiler_cli(python: str) -> list[str]:
    return [str(Path(python).parent / "flight_profiler")]


def livescope_scenario(python: str, seconds: float, function: str, command: str | None):
    """(before, during, after) calls/s of a fresh target: before attaching, while ``command``
    runs (or only attached), after ``stop``."""
    target = Target(python, HOT_TARGET.format(name=function))
    try:
        before = target.rate(seconds)
        attached = livescope_cli("attach", str(target.proc.pid), "--no-console")
        assert attached.returncode == 0, attached.stderr
        url = attached.stdout.strip()
        if command:
            sid = api(url, {"action": "init_session"})["sessionId"]
            api(url, {"action": "async_exec", "sessionId": sid, "command": command})
        during = target.rate(seconds)
        livescope_cli("stop", str(target.proc.pid))
        return before, during, target.rate(seconds)
    finally:
        target.close()


def flight_profiler_scenario(python: str, seconds: float, function: str, command: str | None):
    """The same with PyFlightProfiler; 'after' is once its client has exited."""
    target = Target(python, HOT_TARGET.format(name=function))
    try:
        before = target.rate(seconds)
        client = subprocess.Popen(
            [*flight_profiler_cli(python), str(target.proc.pid), "--cmd", command or "stack"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(3)  # its attach
        during = target.rate(seconds) if target.alive else 0.0
        client.send_signal(signal.SIGINT)
        try:
            client.wait(10)
        except subprocess.TimeoutExpired:
            client.kill()
            client.wait()
        return before, during, target.rate(seconds) if target.alive else 0.0
    finally:
        target.close()


def attach_once(tool: str, python: str, pid: int) -> tuple[bool, float, str]:
    """One attach and detach: (worked, seconds to attach, what the tool said on failure)."""
    began = time.monotonic()
    if tool == "livescope":
        run = livescope_cli("attach", str(pid), "--no-console")
        elapsed = time.monotonic() - began
        livescope_cli("stop", str(pid))
        return run.returncode == 0, elapsed, run.stderr
    run = subprocess.run(
        [*flight_profiler_cli(python), str(pid), "--cmd", "stack"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    ok = run.returncode == 0 and "Traceback for thread" in run.stdout
    return ok, time.monotonic() - began, run.stderr


def cycles(tool: str, python: str, source: str, count: int) -> dict:
    """``count`` attach/detach cycles; a target that dies is counted and started again."""
    target = Target(python, source)
    times: list[float] = []
    failed = crashed = 0
    try:
        for _ in range(count):
            ok, elapsed, said = attach_once(tool, python, target.proc.pid)
            if ok:
                times.append(elapsed)
            else:
                failed += 1
                print(f"# {tool} attach failed: {said.strip()[-300:]}", file=sys.stderr)
            if not target.alive:
                crashed += 1
                target.close()
                target = Target(python, source)
        cut = statistics.quantiles(times, n=20) if len(times) >= 2 else [None]
        return {
            "ok": len(times),
            "failed": failed,
            "crashed": crashed,
            "median": statistics.median(times) if times else None,
            "p95": cut[-1],
        }
    finally:
        target.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("python", help="interpreter of a virtualenv with flight-profiler")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--cycles-only", action="store_true", help="skip the call-rate scenarios")
    args = parser.parse_args()
    version = subprocess.run(
        [args.python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(f"# {platform.node()} {platform.machine()} {os.cpu_count()} cpus, targets on CPython")
    print(f"# {version}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("\n| scenario | tool | before | during | per call added | after |")
    print("|---|---|---|---|---|---|")
    for label, function, ours, theirs in () if args.cycles_only else SCENARIOS:
        for tool, measure, command in (
            ("livescope", livescope_scenario, ours),
            ("PyFlightProfiler", flight_profiler_scenario, theirs),
        ):
            before, during, after = measure(args.python, args.seconds, function, command)
            added = (1 / during - 1 / before) * 1e6 if during and before else float("nan")
            print(
                f"| {label} | {tool} | {before / 1e6:.2f} M/s | {during / 1e3:,.0f} k/s"
                f" | {added:.2f} µs | {after / 1e6:.2f} M/s |",
                flush=True,
            )
    if not args.cycles:
        return
    print("\n| tool | target | attaches | ok | failed | target crashed | median | p95 |")
    print("|---|---|---|---|---|---|---|---|")
    for tool in ("livescope", "PyFlightProfiler"):
        for name, source in (("idle", IDLE_TARGET), ("busy", BUSY_TARGET)):
            row = cycles(tool, args.python, source, args.cycles)
            median, p95 = (
                f"{row[k]:.3f} s" if row[k] is not None else "-" for k in ("median", "p95")
            )
            print(
                f"| {tool} | {name} | {args.cycles} | {row['ok']} | {row['failed']} |"
                f" {row['crashed']} | {median} | {p95} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
