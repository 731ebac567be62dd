"""``livescope ps``: the Python processes on this machine and the agent listening in each."""

from __future__ import annotations

import argparse
import pwd
import shlex
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=int, default=80, help="truncate command lines to this")


def run(args: argparse.Namespace) -> int:
    from livescope.attach import inject, procinfo

    rows = [("PID", "USER", "PYTHON", "AGENT", "COMMAND")]
    hidden = 0
    for info in procinfo.python_processes():
        if info.readable:
            agent = inject.find_agent(info)
            where = agent.url if agent else "-"
        else:  # its sockets cannot be read: whether an agent listens there is unknown
            where = "?"
            hidden += 1
        command = shlex.join(info.cmdline) or info.exe
        if len(command) > args.width:
            command = command[: args.width - 3] + "..."
        rows.append((str(info.pid), _user(info.uid), info.version_text, where, command))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
    if hidden:
        print(
            f"({hidden} of another user: their version and agent are shown to that user or root)",
            file=sys.stderr,
        )
    return 0


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
