"""Instructions per call of a one-line function, counted by callgrind: what calls/s on a shared
machine cannot show (its noise is ±20 % or more), as counts that repeat to the instruction.

Each scenario runs in a fresh process under ``valgrind --tool=callgrind``, twice: with no calls
and with N calls of the function; the difference divided by N is the cost of one call,
start-up and the agent's own work left out.

    python bench/enhance_instructions.py [--calls 200000]

Run with any interpreter that has livescope importable (the agent path works for the others).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from enhance_overhead import NEVER, Job, api


def hot(x):
    return x + 1


def other(x):
    """The same as hot: the function that is never hooked in most scenarios."""
    return x + 1


SEEDS = (0, 1, 2)  # the median of three hash seeds
SCENARIOS = {
    "no agent": "the interpreter alone",
    "agent idle": "livescope.start(), nothing hooked",
    "another function watched": "a never-true watch on hot; other measured",
    "the watched function": "a never-true watch on hot; hot measured",
    "after reset": "other watched, then reset",
    "after stop": "other watched, then the agent stopped",
}


def child(scenario: str, calls: int) -> None:
    """The measured process: set the scenario up, then make ``calls`` calls."""
    name = "hot" if scenario == "the watched function" else "other"
    if scenario != "no agent":
        import livescope

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        livescope.start(port=port)
        watched = {"another function watched": "hot", "the watched function": "hot"}
        target = watched.get(scenario, "other")
        if scenario != "agent idle":
            Job(port, f"watch __main__ {target} params {NEVER}")
        if scenario == "after reset":
            api(port, {"action": "exec", "command": "reset"})
        if scenario == "after stop":
            livescope.stop()
    function = globals()[name]
    for i in range(calls):
        function(i)


def instructions(scenario: str, calls: int, seed: int) -> int:
    """Instructions of the process's main thread (the agent's threads are counted apart: they
    wake on timers, which under valgrind's slowdown would land on every call). The hash seed
    is fixed: with it the count repeats exactly; between seeds dict layouts move it by 1-3 %."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--separate-threads=yes"]
            + [f"--callgrind-out-file={out}/cg", sys.executable, __file__]
            + ["--child", scenario, str(calls)],
            check=True,
            capture_output=True,
            env=dict(os.environ, PYTHONHASHSEED=str(seed)),
        )
        text = Path(out, "cg-01").read_bytes()  # thread 1: the main thread
        summary = re.search(rb"^summary:\s+(\d+)", text, re.M)
        assert summary is not None, "callgrind wrote no summary"
        return int(summary.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--child", nargs=2, metavar=("SCENARIO", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    print(
        f"Python {platform.python_version()}, {args.calls:,} calls, median of hash seeds"
        f" {SEEDS}, {time.strftime('%Y-%m-%d')}"
    )
    print(f"{'scenario':28} {'instructions per call':>22} {'vs no agent':>12}")
    base = None
    for scenario, meaning in SCENARIOS.items():
        per_call = statistics.median(
            (instructions(scenario, args.calls, seed) - instructions(scenario, 0, seed))
            / args.calls
            for seed in SEEDS
        )
        base = base or per_call
        print(f"{scenario:28} {per_call:22,.1f} {per_call / base:11.3f}x   {meaning}")


if __name__ == "__main__":
    main()
