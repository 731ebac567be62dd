"""``livescope console [URL]``: the interactive terminal console on a running agent."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from livescope.console.client import DEFAULT_URL

HISTORY_FILE = Path.home() / ".livescope_history"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "url", nargs="?", default=DEFAULT_URL, help=f"agent (default {DEFAULT_URL})"
    )
    parser.add_argument("--password", default=None, help="agent password (user arthas)")


def run(args: argparse.Namespace) -> int:
    return run_console(args.url, password=args.password)


def run_console(url: str, password: str | None = None) -> int:
    """Open a session on the agent at ``url`` and read commands until Ctrl-D or ``exit``."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.patch_stdout import patch_stdout

    from livescope.console.client import AgentUnreachable, ApiClient, ApiError
    from livescope.console.completion import CommandCompleter, HelpCatalog
    from livescope.console.output import Printer
    from livescope.console.session import ConsoleSession

    client = ApiClient(url, password=password)
    printer = Printer()
    session = ConsoleSession(client, printer)
    try:
        session.start()
    except (AgentUnreachable, ApiError) as exc:
        print(str(exc), file=sys.stderr)
        client.close()
        return 2
    prompt = PromptSession(
        history=FileHistory(str(HISTORY_FILE)),
        completer=CommandCompleter(HelpCatalog(client)),
        complete_while_typing=False,
    )
    try:
        with patch_stdout(raw=True):
            while not session.closed.is_set():
                try:
                    # a callable: redrawn with the new pid when the console reconnects
                    line = prompt.prompt(lambda: f"[livescope@{session.pid or '?'}]$ ")
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    break
                if line.strip() and not session.run_line(line):
                    break
    finally:
        session.close()
        client.close()
    return 0
