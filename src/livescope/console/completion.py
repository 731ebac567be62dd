"""Completion of command names and options, learned from the agent's own ``help``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from livescope.console.client import AgentUnreachable, ApiClient, ApiError


def option_words(options: Iterable[dict[str, Any]]) -> list[str]:
    words: list[str] = []
    for opt in options:
        if opt.get("longName"):
            words.append(f"--{opt['longName']}")
        if opt.get("shortName"):
            words.append(f"-{opt['shortName']}")
    return words


def learn_commands(client: ApiClient) -> dict[str, list[str]]:
    """``{command name: [option words]}`` from one-shot ``help``; empty if help is missing."""
    try:
        envelope = client.exec("help", timeout_ms=10000)
    except (ApiError, AgentUnreachable):
        return {}
    commands: dict[str, list[str]] = {}
    for item in (envelope.get("body") or {}).get("results") or []:
        if item.get("type") == "help":
            for command in item.get("commands") or []:
                commands[command.get("name", "")] = option_words(command.get("options") or [])
    commands.pop("", None)
    return commands


class CommandCompleter(Completer):
    def __init__(self, commands: dict[str, list[str]]) -> None:
        self.commands = commands

    def get_completions(self, document: Document, complete_event: CompleteEvent):
        text = document.text_before_cursor
        words = text.split()
        current = "" if not words or text.endswith((" ", "\t")) else words[-1]
        if len(words) == 0 or (len(words) == 1 and current):
            candidates: Iterable[str] = sorted(self.commands)
        elif current.startswith("-"):
            candidates = self.commands.get(words[0], [])
        else:
            return
        for word in candidates:
            if word.startswith(current):
                yield Completion(word, start_position=-len(current))
