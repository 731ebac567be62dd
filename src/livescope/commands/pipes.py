"""Text pipes: ``| grep``, ``| head``, ``| tail``, ``| wc -l``, ``| plaintext``.

The API ignores pipes (they shape text, and the API sends data), so the text clients apply
them to the text they render, line by line, as Arthas's terminal does: the terminal console
outside the target and the agent's own ``/ws`` terminal inside it (hence stdlib only).
"""

from __future__ import annotations

import re
from collections.abc import Callable


class PipeError(ValueError):
    """An unknown pipe command or bad pipe arguments."""


Filter = Callable[[list[str]], list[str]]


def grep(args: list[str]) -> Filter:
    """``grep [-i] [-v] [-n] [-e] [-m N] PATTERN`` (the pattern is a Python regex)."""
    ignore_case = invert = numbers = False
    max_count: int | None = None
    pattern: str | None = None
    it = iter(args)
    for arg in it:
        if arg in ("-i", "--ignore-case"):
            ignore_case = True
        elif arg in ("-v", "--invert-match"):
            invert = True
        elif arg in ("-n", "--line-number"):
            numbers = True
        elif arg in ("-e", "--regex"):
            continue  # patterns are always regular expressions here
        elif arg in ("-m", "--max-count"):
            max_count = int(next(it, "0"))
        elif pattern is None:
            pattern = arg
        else:
            raise PipeError(f"grep: unexpected argument {arg!r}")
    if pattern is None:
        raise PipeError("grep: a pattern is required")
    try:
        regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise PipeError(f"grep: bad pattern: {exc}") from exc

    def apply(lines: list[str]) -> list[str]:
        out = [
            f"{n}:{line}" if numbers else line
            for n, line in enumerate(lines, 1)
            if bool(regex.search(line)) != invert
        ]
        return out if max_count is None else out[:max_count]

    return apply


def count_arg(name: str, args: list[str]) -> int:
    if not args:
        return 10
    text = args[1] if args[0] == "-n" and len(args) > 1 else args[0].lstrip("-")
    try:
        return int(text)
    except ValueError as exc:
        raise PipeError(f"{name}: bad line count {text!r}") from exc


def build(segment: list[str]) -> Filter:
    name, args = segment[0], segment[1:]
    if name == "grep":
        return grep(args)
    if name == "head":
        n = count_arg(name, args)
        return lambda lines: lines[:n]
    if name == "tail":
        n = count_arg(name, args)
        return lambda lines: lines[-n:] if n else []
    if name == "wc" and args in ([], ["-l"]):
        return lambda lines: [str(len(lines))]
    if name == "plaintext":
        return lambda lines: lines
    raise PipeError(f"unsupported pipe command: {name} (grep, head, tail, wc -l, plaintext)")


PIPE_COMMANDS = ("grep", "head", "tail", "wc", "plaintext")


LINE_BY_LINE = {"grep", "plaintext"}


class Pipeline:
    """A compiled chain. ``streaming`` is true when every stage works line by line (grep), so
    output of a long-running job can be filtered as it arrives; otherwise (head, tail, wc) the
    console buffers the job's whole output and filters it at the end."""

    def __init__(self, pipes: list[list[str]]) -> None:
        if any(not segment for segment in pipes):
            raise PipeError("empty pipe segment")
        self.filters = [build(segment) for segment in pipes]
        self.streaming = all(segment[0] in LINE_BY_LINE for segment in pipes)

    def __call__(self, lines: list[str]) -> list[str]:
        for f in self.filters:
            lines = f(lines)
        return lines
