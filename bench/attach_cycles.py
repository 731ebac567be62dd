"""Attach/detach cycles on a busy and an idle target: crashes, hangs, attach time median/p95.

Usage: python bench/attach_cycles.py [N]   (N cycles per target, default 200)
"""

from __future__ import annotations

import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from livescope.attach import inject
from livescope.attach.stop_cli import stop_agent

TARGETS = {
    "idle": "import time\nprint('ready', flush=True)\ntime.sleep(3600)\n",
    "busy": "print('ready', flush=True)\nwhile True:\n    sum(range(1000))\n",
}


def start(source: str) -> subprocess.Popen:
    script = Path(tempfile.mkdtemp(prefix="livescope-bench-")) / "main.py"
    script.write_text(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, env=env, start_new_session=True
    )
    assert proc.stdout and proc.stdout.readline().strip() == b"ready"
    return proc


def cycles(name: str, n: int) -> dict:
    proc = start(TARGETS[name])
    times, hangs = [], 0
    try:
        for _ in range(n):
            began = time.monotonic()
            try:
                inject.attach(proc.pid, timeout=10)
            except inject.AttachError:
                hangs += 1
                continue
            times.append(time.monotonic() - began)
            stop_agent(proc.pid)
            if proc.poll() is not None:
                break
        crashed = proc.poll() is not None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    times.sort()
    return {
        "target": name,
        "cycles": n,
        "ok": len(times),
        "failed": hangs,
        "crashed": crashed,
        "median": statistics.median(times) if times else None,
        "p95": times[int(0.95 * (len(times) - 1))] if times else None,
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(
        f"# {platform.node()} {platform.machine()} {os.cpu_count()} cpus,"
        f" CPython {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    for name in TARGETS:
        r = cycles(name, n)
        print(
            f"{r['target']}: {r['ok']}/{r['cycles']} attaches ok, failed {r['failed']},"
            f" crashed {r['crashed']}, median {r['median']:.3f}s, p95 {r['p95']:.3f}s"
        )


if __name__ == "__main__":
    main()
