"""Tab completion of command lines: command names, their options, and pipe commands.

One rule for every text client. The terminal console learns the words from ``help``'s JSON;
the agent's ``/ws`` terminal reads the declared argument specs directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from livescope.commands.pipes import PIPE_COMMANDS
from livescope.commands.spec import HELP_OPTION, Option


def spec_words(options: Iterable[Option]) -> list[str]:
    """``--long`` and ``-s`` words of a command's declared options (``-h`` included)."""
    words: list[str] = []
    for option in (*options, HELP_OPTION):
        words.append(f"--{option.long}")
        if option.short:
            words.append(f"-{option.short}")
    return words


def option_words(options: Iterable[dict[str, Any]]) -> list[str]:
    """The same words from ``help``'s option objects (``longName``, ``shortName``)."""
    words: list[str] = []
    for opt in options:
        if opt.get("longName"):
            words.append(f"--{opt['longName']}")
        if opt.get("shortName"):
            words.append(f"-{opt['shortName']}")
    return words


def complete(commands: Mapping[str, Sequence[str]], text: str) -> tuple[str, list[str]]:
    """The word being completed at the end of ``text`` and the words that may replace it.

    ``commands`` maps each command name to its option words. The first word of a line is a
    command name, the first word after a ``|`` a pipe command; a word starting with ``-`` is
    one of the command's options. Anything else (patterns, expressions) is not completed.
    """
    segment = text.rsplit("|", 1)[-1]
    piped = len(segment) < len(text)
    words = segment.split()
    current = "" if not words or segment.endswith((" ", "\t")) else words[-1]
    if not words or (len(words) == 1 and current):
        candidates: Iterable[str] = PIPE_COMMANDS if piped else sorted(commands)
    elif current.startswith("-") and not piped:
        candidates = commands.get(words[0], ())
    else:
        return current, []
    return current, [word for word in candidates if word.startswith(current)]
