"""``livescope stop PID``: shut down the agent inside a process (the ``stop`` command)."""

from __future__ import annotations

import argparse
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pid", type=int, help="process whose agent to stop")
    parser.add_argument("--password", default=None, help="agent password (user arthas)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait (default 10)")


def stop_agent(pid: int, password: str | None = None, timeout: float = 10.0) -> str:
    """Stop the agent in ``pid`` and wait until its port is closed; returns the URL it had."""
    import httpx

    from livescope.attach import inject, procinfo

    address = inject.running_agent(pid)
    if address is None:
        raise RuntimeError(f"no agent started by livescope attach listens in process {pid}")
    auth = ("arthas", password) if password else None
    try:
        reply = httpx.post(
            address.url + "/api",
            json={"action": "exec", "command": "stop"},
            auth=auth,
            timeout=timeout,
        )
        if reply.status_code == 401:
            raise RuntimeError("the agent needs a password: --password")
    except httpx.TransportError:
        pass  # the agent may close the connection as it shuts down
    deadline = time.monotonic() + timeout
    while any(port == address.port for _, port in procinfo.listening_ports(pid)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the agent in {pid} still listens on {address.port}")
        time.sleep(0.02)
    inject.forget(pid)
    return address.url


def run(args: argparse.Namespace) -> int:
    try:
        url = stop_agent(args.pid, args.password, args.timeout)
    except RuntimeError as exc:
        print(f"livescope stop: {exc}", file=sys.stderr)
        return 1
    print(f"agent at {url} in process {args.pid} stopped")
    return 0
