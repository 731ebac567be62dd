"""Completion of command names and options, learned from the agent's own ``help``."""

from __future__ import annotations

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from livescope.commands.completion import complete, option_words
from livescope.console.client import AgentUnreachable, ApiClient, ApiError


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
        current, candidates = complete(self.commands, document.text_before_cursor)
        for word in candidates:
            yield Completion(word, start_position=-len(current))
