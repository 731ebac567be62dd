"""Attach/detach cycles on a busy and an idle target: crashes, hangs, attach time median/p95.

Usage: python bench/attach_cycles.py [N] [--root DIR]   (N cycles per target, default 200)

``--root DIR``: the targets are CPython 3.14 run in the root scripts/python314 makes
(/opt/livescope-py314), with ``chroot`` since that interpreter needs the root's own libc.
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

PY314 = "/usr/bin/python3.14"

TARGETS = {
    "idle": "import time\nprint('ready', flush=True)\ntime.sleep(3600)\n",
    "busy": "print('ready', flush=True)\nwhile True:\n    sum(range(1000))\n",
}


def start(source: str, root: Path | None) -> subprocess.Popen:
    where = root / "tmp" if root else None
    script = Path(tempfile.mkdtemp(prefix="livescope-bench-", dir=where)) / "main.py"
    script.write_text(source)
    command = [sys.executable, str(script)]
    if root:
        command = ["chroot", str(root), PY314, "/" + str(script.relative_to(root))]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, start_new_session=True)
    assert proc.stdout and proc.stdout.readline().strip() == b"ready"
    return proc


def cycles(name: str, n: int, root: Path | None) -> dict:
    proc = start(TARGETS[name], root)
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
    args = sys.argv[1:]
    root = None
    if "--root" in args:
        at = args.index("--root")
        root = Path(args[at + 1])
        del args[at : at + 2]
    n = int(args[0]) if args else 200
    targets = f"CPython 3.14 in {root}" if root else f"CPython {platform.python_version()}"
    print(
        f"# {platform.node()} {platform.machine()} {os.cpu_count()} cpus, targets {targets},"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    for name in TARGETS:
        r = cycles(name, n, root)
        print(
            f"{r['target']}: {r['ok']}/{r['cycles']} attaches ok, failed {r['failed']},"
            f" crashed {r['crashed']}, median {r['median']:.3f}s, p95 {r['p95']:.3f}s"
        )


if __name__ == "__main__":
    main()
