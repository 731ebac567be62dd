"""The profiler's cost to a busy thread, in alternating windows of one process.

    python bench/profiler_windows.py [--windows 800] [--window-ms 100] [--interval-ms 10]
                                     [--python-walk]

A shared machine's speed swings by ±25 % from one second to the next, so separate runs
(bench/profiler_overhead.py) cannot resolve a cost of a few percent by throughput. Here one
process keeps a worker thread counting, 20 frames deep; pairs of windows follow each other,
one with livescope's Sampler running (started before the window, stopped after it), one
without, in a random order per pair. The cost is the median over pairs of the worker's
throughput with the sampler against the window beside it, with a bootstrap 95 % interval.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from livescope.profiler import sampler  # noqa: E402

SETTLE = 0.02  # seconds between starting the sampler and opening the window
counted = 0


def worker(depth: int) -> None:
    global counted
    if depth:
        return worker(depth - 1)
    x = 0
    while True:
        for i in range(1000):
            x += i % 7
        counted += 1000


def window(seconds: float) -> float:
    """The worker's iterations per second over one window."""
    start_count, start = counted, time.perf_counter()
    time.sleep(seconds)
    return (counted - start_count) / (time.perf_counter() - start)


def pair(seconds: float, interval: float) -> float:
    """1 - throughput with the sampler / throughput without, in two adjacent windows."""
    rates = {}
    for sampling in random.sample([True, False], 2):
        if sampling:
            profiler = sampler.Sampler(interval)
            profiler.start()
            time.sleep(SETTLE)
            rates[True] = window(seconds)
            profiler.stop()
        else:
            time.sleep(SETTLE)
            rates[False] = window(seconds)
    return 1 - rates[True] / rates[False]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=800, help="pairs of windows")
    parser.add_argument("--window-ms", type=float, default=100.0)
    parser.add_argument("--interval-ms", type=float, default=10.0, help="the sampler's -e")
    parser.add_argument(
        "--python-walk", action="store_true", help="the Python walk even where the C one is built"
    )
    args = parser.parse_args()
    if args.python_walk:
        sampler._stackwalk = None
    threading.Thread(target=worker, args=(20,), daemon=True).start()
    time.sleep(0.5)
    started = time.monotonic()
    costs = []
    for n in range(args.windows):
        costs.append(pair(args.window_ms / 1000, args.interval_ms / 1000))
        if (n + 1) % 100 == 0:
            print(f"{n + 1}/{args.windows} pairs", file=sys.stderr, flush=True)
    medians = sorted(statistics.median(random.choices(costs, k=len(costs))) for _ in range(2000))
    walk = "C" if sampler._stackwalk is not None else "Python"
    print(
        f"sampler at {1000 / args.interval_ms:g} Hz costs the worker "
        f"{100 * statistics.median(costs):+.2f} % of its throughput (95 % interval {100 * medians[50]:+.2f} … "
        f"{100 * medians[1949]:+.2f}), {len(costs)} pairs of {args.window_ms:g} ms windows, "
        f"the walk in {walk}"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}, {time.monotonic() - started:.0f} s, "
        f"load average now {load}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
