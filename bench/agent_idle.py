"""What an idle agent costs its host: added RSS and threads, measured inside one real target.

Each run starts a fresh interpreter that records its own RSS (``VmRSS``) and thread count,
starts the agent, waits, and records them again; then it answers one ``exec version`` (which
loads the API layer and the command registry) and records a third time. The median of the runs
is printed as a Markdown table row.

    python bench/agent_idle.py [--runs 5] [--python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

PROBE = r"""
import json, os, socket, threading, time

def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

def snapshot():
    time.sleep(0.5)
    return {"rss_kib": rss_kib(), "threads": threading.active_count()}

before = snapshot()
import livescope
agent = livescope.start(port=0)
idle = snapshot()
body = b'{"action":"exec","command":"version"}'
with socket.create_connection(("127.0.0.1", agent.port)) as client:  # no HTTP client loaded
    client.sendall(b"POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 37\r\n\r\n" + body)
    while client.recv(65536):
        pass
used = snapshot()
livescope.stop()
print(json.dumps({"before": before, "idle": idle, "used": used}))
"""


def agent_path() -> str:
    """livescope's source plus the directories holding the agent's two protocol libraries."""
    import h11
    import wsproto

    dirs = [str(SRC)] + [str(Path(m.__file__).parents[1]) for m in (h11, wsproto)]
    return os.pathsep.join(dict.fromkeys(dirs))


def run_once(python: str) -> dict:
    env = dict(os.environ, PYTHONPATH=agent_path())
    out = subprocess.run(
        [python, "-c", PROBE], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    runs = [run_once(args.python) for _ in range(args.runs)]

    def added(phase: str, key: str) -> float:
        return statistics.median(r[phase][key] - r["before"][key] for r in runs)

    version = subprocess.run(
        [args.python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"Python {version}, {platform.machine()}, {os.cpu_count()} cores, {args.runs} runs")
    print("| state | added RSS | added threads |")
    print("|---|---|---|")
    for phase, label in (("idle", "started, idle"), ("used", "after one `exec version`")):
        print(
            f"| {label} | {added(phase, 'rss_kib') / 1024:.1f} MB | {added(phase, 'threads'):g} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
