"""What the sampling profiler costs the code it samples: a CPU-bound workload timed with and
without a running sampler, in one fresh interpreter per configuration.

    python bench/profiler_overhead.py [--runs 5] [--python PATH]

The workload is a pure-Python loop on a thread of its own, 20 frames deep (so each sample walks
a realistic stack); the median wall time of the runs is printed per sampling interval.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

PROBE = r"""
import json, sys, threading, time
from livescope.profiler.sampler import Sampler

def work(depth):
    if depth:
        return work(depth - 1)
    x = 0
    for i in range(20_000_000):
        x += i % 7
    return x

interval = float(sys.argv[1])
sampler = Sampler(interval / 1000) if interval > 0 else None
if sampler:
    sampler.start()
t = threading.Thread(target=work, args=(20,))
start = time.perf_counter()
t.start(); t.join()
elapsed = time.perf_counter() - start
samples = sampler.samples if sampler else 0
if sampler:
    sampler.stop()
print(json.dumps({"elapsed": elapsed, "samples": samples}))
"""


def run_once(python: str, interval_ms: float) -> dict:
    env = {"PYTHONPATH": str(SRC)}
    out = subprocess.run(
        [python, "-c", PROBE, str(interval_ms)], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    base = None
    print("| sampling interval | median time | overhead | samples |")
    print("|---|---|---|---|")
    for interval in (0, 10, 1):
        results = [run_once(args.python, interval) for _ in range(args.runs)]
        median = statistics.median(r["elapsed"] for r in results)
        samples = int(statistics.median(r["samples"] for r in results))
        base = base or median
        label = "off" if interval == 0 else f"{interval} ms"
        overhead = "—" if interval == 0 else f"{100 * (median / base - 1):+.1f} %"
        print(f"| {label} | {median * 1000:.0f} ms | {overhead} | {samples} |")
    print(f"\n{platform.python_implementation()} {platform.python_version()}, {platform.machine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
