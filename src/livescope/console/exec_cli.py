"""``livescope exec [URL] COMMAND...``: run one command on an agent, for scripts.

Exit code: the command's ``status`` code (0 success; negative codes become 1; others are
clipped to 1..255); 2 when the agent refused or failed the request or cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from livescope.console.client import DEFAULT_URL


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "words",
        nargs=argparse.REMAINDER,
        metavar="[URL] COMMAND...",
        help=f"agent URL (default {DEFAULT_URL}) then the command line",
    )
    parser.add_argument("--json", action="store_true", help="print the raw JSON response")
    parser.add_argument(
        "--timeout", type=int, default=30000, metavar="MS", help="exec timeout (default 30000)"
    )
    parser.add_argument("--password", default=None, help="agent password (user arthas)")


def looks_like_url(word: str) -> bool:
    return word.startswith(("http://", "https://"))


def split_words(words: list[str]) -> tuple[str, list[str], dict[str, Any]]:
    """URL, command words, and our own options given after the command (REMAINDER keeps them)."""
    url = DEFAULT_URL
    if words and looks_like_url(words[0]):
        url, words = words[0], words[1:]
    own: dict[str, Any] = {}
    command: list[str] = []
    it = iter(words)
    for word in it:
        if word == "--json":
            own["json"] = True
        elif word in ("--timeout", "--password"):
            own[word[2:]] = next(it, None)
        elif word.startswith(("--timeout=", "--password=")):
            key, _, value = word[2:].partition("=")
            own[key] = value
        else:
            command.append(word)
    return url, command, own


def quote(word: str) -> str:
    """Re-quote a shell word so the agent's tokenizer sees it as one argument again."""
    if word == "|" or (word and not any(c in word for c in " \t\"'\\|&")):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exit_code(results: list[dict[str, Any]]) -> int:
    codes = [r.get("statusCode", 0) for r in results if r.get("type") == "status"]
    code = int(codes[-1]) if codes else 0
    if code == 0:
        return 0
    return 1 if code < 0 else min(code, 255)


def run(args: argparse.Namespace) -> int:
    from livescope.commands.cmdline import CommandLineError, parse_command_line
    from livescope.commands.pipes import PipeError, Pipeline
    from livescope.console.client import AgentUnreachable, ApiClient, ApiError
    from livescope.console.output import Printer

    url, words, own = split_words(list(args.words))
    as_json = args.json or own.get("json", False)
    password = own.get("password") or args.password
    try:
        timeout = int(own.get("timeout") or args.timeout)
    except ValueError:
        print("--timeout needs a number of milliseconds", file=sys.stderr)
        return 2
    if not words:
        print("usage: livescope exec [URL] COMMAND... [--json] [--timeout MS]", file=sys.stderr)
        return 2
    line = " ".join(quote(w) for w in words)
    try:
        pipes = parse_command_line(line).pipes
        if pipes:
            Pipeline(pipes)  # report a bad pipe before anything runs
    except (CommandLineError, PipeError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    client = ApiClient(url, password=password)
    try:
        envelope = client.exec(line, timeout_ms=timeout)
    except AgentUnreachable as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except ApiError as exc:
        if as_json and exc.response:
            print(json.dumps(exc.response, indent=2, ensure_ascii=False))
        print(exc.message, file=sys.stderr)
        return 2
    finally:
        client.close()
    results = list((envelope.get("body") or {}).get("results") or [])
    if as_json:
        print(json.dumps(envelope, indent=2, ensure_ascii=False))
    elif pipes:
        Printer().show_piped(results, Pipeline(pipes))
    else:
        Printer().show(results)
    if envelope.get("state") == "INTERRUPTED":
        print(envelope.get("message") or "the command timed out", file=sys.stderr)
        return max(exit_code(results), 1)
    return exit_code(results)
