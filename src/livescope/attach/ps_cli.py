"""``livescope ps``: the Python processes on this machine and the agent listening in each."""

from __future__ import annotations

import argparse
import shlex


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=int, default=80, help="truncate command lines to this")


def run(args: argparse.Namespace) -> int:
    from livescope.attach import inject, procinfo

    rows = [("PID", "PYTHON", "AGENT", "COMMAND")]
    for info in procinfo.python_processes():
        agent = inject.find_agent(info)
        command = shlex.join(info.cmdline) or info.exe
        if len(command) > args.width:
            command = command[: args.width - 3] + "..."
        rows.append((str(info.pid), info.version_text, agent.url if agent else "-", command))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
    return 0
