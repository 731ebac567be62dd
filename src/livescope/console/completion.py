"""Completion of command names and options, learned from the agent's own ``help``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from livescope.commands.completion import complete, option_words
from livescope.console.client import AgentUnreachable, ApiClient, ApiError


class HelpCatalog(Mapping[str, list[str]]):
    """``{command name: [option words]}`` learned from the agent's ``help``.

    ``help`` lists the names only (as Arthas does), so the options of a command are asked for
    with ``help NAME`` the first time its options are completed, then kept.
    """

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.options: dict[str, list[str] | None] = {}
        for item in self._help(""):
            for command in item.get("commands") or []:
                if command.get("name"):
                    self.options[command["name"]] = None

    def _help(self, name: str) -> list[dict]:
        try:
            envelope = self.client.exec(f"help {name}".strip(), timeout_ms=10000)
        except (ApiError, AgentUnreachable):
            return []
        results = (envelope.get("body") or {}).get("results") or []
        return [item for item in results if item.get("type") == "help"]

    def __getitem__(self, name: str) -> list[str]:
        words = self.options[name]  # KeyError for a name help did not list
        if words is None:
            words = []
            for item in self._help(name):
                words = option_words((item.get("detailCommand") or {}).get("options") or [])
            self.options[name] = words
        return words

    def __iter__(self) -> Iterator[str]:
        return iter(self.options)

    def __len__(self) -> int:
        return len(self.options)


class CommandCompleter(Completer):
    def __init__(self, commands: Mapping[str, list[str]]) -> None:
        self.commands = commands

    def get_completions(self, document: Document, complete_event: CompleteEvent):
        current, candidates = complete(self.commands, document.text_before_cursor)
        for word in candidates:
            yield Completion(word, start_position=-len(current))
