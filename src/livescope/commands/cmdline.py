"""Tokenising Arthas command lines: quotes, backslash escapes, a trailing ``&``, ``|`` pipes.

``watch demo.MathGame primeFactors "{params, returnObj}" -x 2 &`` becomes the command name,
its argument tokens, ``background=True``. Pipes (``| grep foo``) are kept apart: they shape
text output only, so the API ignores them while the terminal console applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class CommandLineError(ValueError):
    """The line cannot be tokenised (an unclosed quote, a dangling escape)."""


@dataclass
class CommandLine:
    name: str
    args: list[str]
    background: bool = False
    pipes: list[list[str]] = field(default_factory=list)
    text: str = ""


def tokenize(line: str) -> list[str]:
    """Split like a shell: single quotes are literal, double quotes honour backslash escapes.

    A ``|`` or ``&`` standing alone (outside quotes) is its own token, so ``a|b`` is a pipe too.
    """
    tokens: list[str] = []
    current: list[str] = []
    in_token = False
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if ch in " \t\r\n":
            if in_token:
                tokens.append("".join(current))
                current, in_token = [], False
        elif ch == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise CommandLineError("unclosed single quote")
            current.append(line[i + 1 : end])
            in_token, i = True, end
        elif ch == '"':
            i += 1
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n and line[i + 1] in '"\\$`':
                    i += 1
                current.append(line[i])
                i += 1
            if i >= n:
                raise CommandLineError("unclosed double quote")
            in_token = True
        elif ch == "\\":
            if i + 1 >= n:
                raise CommandLineError("dangling escape at end of line")
            current.append(line[i + 1])
            in_token, i = True, i + 1
        elif ch in "|&":
            if in_token:
                tokens.append("".join(current))
                current, in_token = [], False
            tokens.append(ch)
        else:
            current.append(ch)
            in_token = True
        i += 1
    if in_token:
        tokens.append("".join(current))
    return tokens


def parse_command_line(line: str) -> CommandLine:
    """Tokenise a whole line into the command, its arguments, background flag and pipes."""
    tokens = tokenize(line)
    background = False
    if tokens and tokens[-1] == "&":
        background = True
        tokens.pop()
    segments: list[list[str]] = [[]]
    for token in tokens:
        if token == "|":
            segments.append([])
        else:
            segments[-1].append(token)
    head = segments[0]
    if not head:
        raise CommandLineError("the command line is empty")
    return CommandLine(
        name=head[0], args=head[1:], background=background, pipes=segments[1:], text=line
    )
