"""The ``livescope`` command line. Each subcommand lives in the module that owns its feature.

A feature module exposes ``add_arguments(parser)`` and ``run(args) -> int``; the heavy imports
of each feature happen inside ``run``, so ``livescope --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from livescope import __version__

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("livescope.demo.cli", "run the demo program with an agent and open the console on it"),
    "console": ("livescope.console.cli", "interactive console on a running agent"),
    "exec": ("livescope.console.exec_cli", "run one command on an agent (for scripts)"),
    "attach": ("livescope.attach.cli", "start the agent inside a running Python process"),
    "ps": ("livescope.attach.ps_cli", "list the Python processes on this machine"),
    "stop": ("livescope.attach.stop_cli", "shut down the agent inside a process"),
    "mesh": ("livescope.mesh.cli", "run a mesh gateway node"),
    "fleet": ("livescope.mesh.fleet_cli", "list and drive the agents connected to a mesh"),
}


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the ``chosen`` subcommand's module is imported (the others' imports,
    httpx or aiohttp among them, would cost every command a tenth of a second)."""
    parser = argparse.ArgumentParser(
        prog="livescope",
        description="Live diagnostics for running Python processes (Arthas HTTP API).",
    )
    parser.add_argument("--version", action="version", version=f"livescope {__version__}")
    sub = parser.add_subparsers(dest="subcommand", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name != chosen:
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:  # a feature whose extra is not installed
            sub_parser.set_defaults(_run=lambda _args, n=name, e=exc: _not_installed(n, e))
            continue
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def _not_installed(name: str, exc: ImportError) -> int:
    print(f"livescope {name}: not installed in this build ({exc})", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    chosen = next((word for word in words if not word.startswith("-")), None)
    parser = build_parser(chosen)
    args = parser.parse_args(words)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
