"""``livescope demo``: run math-game with an agent inside it, then open the console on it.

The demo runs as a child ``python -c`` with this directory on ``sys.path``, so ``import demo``
finds ``demo.py`` and its class is ``demo.MathGame`` as in every Arthas tutorial.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
DEFAULT_PORT = 8563


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="agent port (default 8563)")
    parser.add_argument("--host", default="127.0.0.1", help="agent address (default 127.0.0.1)")
    parser.add_argument("--password", default=None, help="protect the agent with this password")
    parser.add_argument(
        "--no-console", action="store_true", help="just run the demo in the foreground"
    )


def demo_code(host: str, port: int, password: str | None = None) -> str:
    """The ``python -c`` program: put demo.py on the path, start the agent, play."""
    return (
        "import sys\n"
        f"sys.path.insert(0, {str(DEMO_DIR)!r})\n"
        "import livescope, demo\n"
        f"livescope.start(host={host!r}, port={port}, password={password!r})\n"
        "demo.main()\n"
    )


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(host: str, wanted: int) -> int:
    """``wanted`` if nothing listens there, else a free port chosen by the system."""
    if port_is_free(host, wanted):
        return wanted
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_listening(host: str, port: int, proc: subprocess.Popen, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(args: argparse.Namespace) -> int:
    port = pick_port(args.host, args.port)
    if port != args.port:
        print(f"port {args.port} is taken, the demo agent uses port {port}", file=sys.stderr)
    command = [sys.executable, "-c", demo_code(args.host, port, args.password)]
    # A plain `kill` of this process must not leave the demo behind: exit through `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.no_console:
        print(f"math-game running, agent at http://{args.host}:{port} (Ctrl-C stops)", flush=True)
        proc = subprocess.Popen(command)
        try:
            return proc.wait()
        finally:
            stop(proc)
    from livescope.console.cli import run_console

    # The demo's output would scribble over the console, so it goes to a log file.
    log_path = Path.home() / ".livescope_demo.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        if not wait_listening(args.host, port, proc):
            print(f"the demo did not start its agent (see {log_path})", file=sys.stderr)
            return 1
        print(f"math-game is running as pid {proc.pid} (output in {log_path})")
        return run_console(f"http://{args.host}:{port}", password=args.password)
    finally:
        stop(proc)
