"""``livescope attach PID``: start the agent inside a running Python process, open the console."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pid", type=int, help="process id of the running Python program")
    parser.add_argument("--host", default="127.0.0.1", help="address the agent listens on")
    parser.add_argument("--port", type=int, default=None, help="agent port (default 8563 or free)")
    parser.add_argument("--password", default=None, help="require this password (user arthas)")
    parser.add_argument(
        "--no-console", action="store_true", help="print the agent URL instead of a console"
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for the agent (default 10)"
    )
    parser.add_argument(
        "--mesh",
        metavar="URL",
        help="also connect the agent to this mesh (ws://host:6790/livescope)",
    )
    parser.add_argument("--app", help="the app name the agent gives the mesh (default: program)")
    parser.add_argument(
        "--unsafe",
        action="store_true",
        help="run the bootstrap on a hijacked thread (only for a target whose GIL is held forever)",
    )


def run(args: argparse.Namespace) -> int:
    from livescope.attach.inject import AttachError, attach

    try:
        address = attach(
            args.pid,
            host=args.host,
            port=args.port,
            password=args.password,
            timeout=args.timeout,
            unsafe=args.unsafe,
            mesh=args.mesh,
            app=args.app,
        )
    except AttachError as exc:
        print(f"livescope attach: {exc}", file=sys.stderr)
        return 1
    verb = "agent started" if address.started else "agent already running"
    if args.mesh and not address.started:
        print("the running agent keeps its settings: --mesh not applied", file=sys.stderr)
    if args.no_console:
        print(address.url)
        print(f"{verb} in process {address.pid}", file=sys.stderr)
        return 0
    print(f"{verb} in process {address.pid}: {address.url}", file=sys.stderr)
    try:
        from livescope.console.cli import run_console
    except ImportError:
        print(address.url)
        print("console not installed: pip install 'livescope[console]'", file=sys.stderr)
        return 0
    return int(run_console(address.url, args.password) or 0)
