"""``livescope fleet``: the agents connected to a mesh — list them, run a command on many.

    livescope fleet [--api URL]... [--token T] [--topic livescope] list [--json] [--timeout S]
    livescope fleet [...] exec (--app APP | --agent ID | --all) [--json] [--timeout S] COMMAND...

Several ``--api`` URLs (nodes of one grid) are tried in turn, on start and on reconnect.
How agents and this tool talk is described in :mod:`livescope.agent.meshlink`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

DEFAULT_API = "http://127.0.0.1:6789"
DEFAULT_TIMEOUT = 30.0
DISCOVER_WAIT = 5.0

OK, FAILED, BAD_INPUT, UNREACHABLE = 0, 1, 2, 3

EPILOG = """\
exit codes: 0 every agent answered and its command succeeded; 1 an agent failed, was gone or
did not answer in time; 2 bad input (bad URL, unknown app or agent, no command); 3 no mesh node
reachable. Environment: LIVESCOPE_MESH_API (default --api), LIVESCOPE_MESH_TOKEN (--token).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.set_defaults(fleet_parser=parser)
    parser.add_argument(
        "--api",
        action="append",
        metavar="URL",
        help=f"a mesh node's API (default {DEFAULT_API}); repeat for more nodes of the grid",
    )
    parser.add_argument("--token", default=None, help="the nodes' API token (mesh --token)")
    parser.add_argument(
        "--topic", default=None, help="the agents' topic: the path in their mesh URL (livescope)"
    )
    actions = parser.add_subparsers(dest="fleet_action", metavar="ACTION")
    listing = actions.add_parser(
        "list", help="list the agents in the grid", description="List the agents in the grid."
    )
    _common(listing, default_timeout=DISCOVER_WAIT)
    execute = actions.add_parser(
        "exec",
        help="run a command on one agent or on every agent of an app",
        description="Run one command on one agent, every agent of an app, or all of them, and "
        "gather the answers. Options go before COMMAND (or --json/--timeout right after it).",
        epilog=EPILOG,
    )
    which = execute.add_mutually_exclusive_group(required=True)
    which.add_argument("--app", help="every agent of this app")
    which.add_argument("--agent", metavar="ID", help="one agent: its id (fleet list) or HOST:PID")
    which.add_argument("--all", action="store_true", help="every agent in the grid")
    _common(execute, default_timeout=DEFAULT_TIMEOUT)
    execute.add_argument("command", nargs=argparse.REMAINDER, help="the command line to run")


def _common(parser: argparse.ArgumentParser, default_timeout: float) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--timeout",
        type=float,
        default=default_timeout,
        metavar="S",
        help=f"seconds to wait for the agents (default {default_timeout:g})",
    )


def _fail(message: str, code: int) -> int:
    print(f"livescope fleet: {message}", file=sys.stderr)
    return code


def own_options(words: list[str], args: argparse.Namespace) -> list[str] | str:
    """Take ``--json`` / ``--timeout S`` written after the command, as ``livescope exec`` does;
    the command's own words, or an error message."""
    command: list[str] = []
    it = iter(words)
    for word in it:
        if word == "--json":
            args.json = True
        elif word == "--timeout" or word.startswith("--timeout="):
            value = word.partition("=")[2] if "=" in word else next(it, "")
            try:
                args.timeout = float(value)
            except ValueError:
                return f"--timeout needs a number of seconds, not {value!r}"
        else:
            command.append(word)
    return command


def run(args: argparse.Namespace) -> int:
    if not args.fleet_action:
        args.fleet_parser.print_help(sys.stderr)
        return BAD_INPUT
    try:
        from livescope.mesh.api_client import api_ws_url
    except ImportError:
        return _fail("needs the mesh extra: pip install 'livescope[mesh]'", BAD_INPUT)
    urls = args.api or [os.environ.get("LIVESCOPE_MESH_API") or DEFAULT_API]
    try:
        urls = [api_ws_url(url) for url in urls]
    except ValueError as exc:
        return _fail(str(exc), BAD_INPUT)
    if args.fleet_action == "exec":
        words = own_options(list(args.command), args)
        if isinstance(words, str):
            return _fail(words, BAD_INPUT)
        if not words:
            return _fail("exec needs a command: fleet exec --app APP version", BAD_INPUT)
        args.command = words
    if args.timeout <= 0:
        return _fail("--timeout must be more than 0 seconds", BAD_INPUT)
    if not args.json:
        try:
            import rich  # noqa: F401
        except ImportError:
            message = "tables need rich: pip install 'livescope[console]' (or use --json)"
            return _fail(message, BAD_INPUT)
    return asyncio.run(_main(args, urls))


async def _main(args: argparse.Namespace, urls: list[str]) -> int:
    from livescope.agent.meshwire import DEFAULT_TOPIC
    from livescope.mesh.api_client import MeshApi, MeshApiError, NodeUnreachable
    from livescope.mesh.fleet import Fleet

    token = args.token or os.environ.get("LIVESCOPE_MESH_TOKEN") or None
    fleet = Fleet(MeshApi(urls, token), args.topic or DEFAULT_TOPIC)
    try:
        await fleet.open()
        if args.fleet_action == "list":
            return await _list(fleet, args)
        return await _exec(fleet, args)
    except NodeUnreachable as exc:
        return _fail(f"no mesh node reachable: {exc}", UNREACHABLE)
    except MeshApiError as exc:
        return _fail(f"the mesh node refused: {exc}", UNREACHABLE)
    finally:
        await fleet.close()


async def _list(fleet: Any, args: argparse.Namespace) -> int:
    agents = await fleet.discover(None, wait=args.timeout)
    if args.json:
        print(json.dumps({"agents": [a.as_dict() for a in agents]}, indent=2))
        return OK
    if not agents:
        print(f"no agents on topic {fleet.topic!r} at {fleet.api.url}", file=sys.stderr)
        return OK
    from livescope.console.output import Printer
    from livescope.mesh.fleet_views import agents_table

    Printer().console.print(agents_table(agents))
    return OK


async def _exec(fleet: Any, args: argparse.Namespace) -> int:
    from livescope.console.exec_cli import quote

    line = " ".join(quote(word) for word in args.command)
    wait = min(args.timeout, DISCOVER_WAIT)
    if args.app is not None:
        agents = await fleet.discover(args.app, wait=wait)
        if not agents:
            apps = sorted({a.app for a in await fleet.discover(None, wait=wait)})
            there = f"apps there: {', '.join(apps)}" if apps else "no agents are connected"
            return _fail(f"no agent of app {args.app!r} in the grid ({there})", BAD_INPUT)
    else:
        agents = await fleet.discover(None, wait=wait)
        if args.agent is not None:
            agents = [a for a in agents if args.agent in (a.client, _host_pid(a))]
            if not agents:
                return _fail(f"no agent {args.agent!r} in the grid (see fleet list)", BAD_INPUT)
            if len(agents) > 1:
                message = f"{args.agent!r} matches {len(agents)} agents: use an id"
                return _fail(message, BAD_INPUT)
        elif not agents:
            return _fail("no agents are connected", BAD_INPUT)
    print(
        f"asked {len(agents)} agent(s): {line}; waiting up to {args.timeout:g}s",
        file=sys.stderr,
        flush=True,
    )
    body = {"action": "exec", "command": line, "execTimeout": int(args.timeout * 1000)}
    outcomes = await fleet.run(agents, body, args.timeout)
    if args.json:
        print(json.dumps({"command": line, "agents": [_outcome_dict(o) for o in outcomes]}))
    else:
        from livescope.console.output import Printer
        from livescope.mesh.fleet_views import show_outcomes

        show_outcomes(Printer(), outcomes)
    return OK if all(_succeeded(o) for o in outcomes) else FAILED


def _host_pid(agent: Any) -> str:
    return f"{agent.info.get('host')}:{agent.info.get('pid')}"


def _outcome_dict(outcome: Any) -> dict[str, Any]:
    return {
        **outcome.agent.as_dict(),
        "state": outcome.state,
        "seconds": round(outcome.seconds, 3),
        "detail": outcome.detail,
        "reply": outcome.reply,
    }


def _succeeded(outcome: Any) -> bool:
    from livescope.console.exec_cli import exit_code
    from livescope.mesh.fleet import ANSWERED

    reply = outcome.reply or {}
    if outcome.state != ANSWERED or reply.get("state") != "SUCCEEDED":
        return False
    return exit_code(list((reply.get("body") or {}).get("results") or [])) == 0
