"""Declared argument specs: one source for parsing, ``help``, ``X -h``, completion and UI templates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# Status code Arthas uses for command-line errors ("The argument 'x' is required").
ARGUMENT_ERROR = -10


class ArgumentError(Exception):
    """A bad command line; reported as a ``status`` with code -10, never as an envelope error."""


@dataclass(frozen=True)
class Option:
    """``-s`` / ``--long`` option. ``flag`` options take no value; others convert with ``type``."""

    long: str
    short: str | None = None
    help: str = ""
    flag: bool = False
    type: Callable[[str], Any] = str
    default: Any = None
    dest: str | None = None
    multi: bool = False
    metavar: str | None = None

    @property
    def key(self) -> str:
        return self.dest or self.long.replace("-", "_")


@dataclass(frozen=True)
class Argument:
    """A positional argument. ``multi`` collects every remaining positional token."""

    name: str
    help: str = ""
    required: bool = True
    multi: bool = False
    type: Callable[[str], Any] = str
    default: Any = None

    @property
    def key(self) -> str:
        return self.name.replace("-", "_")


class ParsedArgs(dict):
    """Parsed values, by option/argument key; attribute access for readable command code."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


HELP_OPTION = Option("help", "h", "this help", flag=True)


def positive_int(raw: str) -> int:
    """A count or limit: a whole number above zero."""
    value = int(raw)
    if value <= 0:
        raise ValueError("must be > 0")
    return value


def non_negative_int(raw: str) -> int:
    """A depth or interval where 0 has a meaning of its own (no expansion, no limit)."""
    value = int(raw)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def boolean(raw: str) -> bool:
    """An option spelled ``true`` or ``false`` (any case), as Arthas' boolean options are."""
    if raw.lower() not in ("true", "false"):
        raise ValueError("expected true or false")
    return raw.lower() == "true"


def _convert(spec: Option | Argument, raw: str, label: str) -> Any:
    try:
        return spec.type(raw)
    except (TypeError, ValueError) as exc:
        kind = getattr(spec.type, "__name__", "value")
        # Validators built on int()/float() fail with Python's wording; say what was wrong.
        text = str(exc)
        if kind == "int" or text.startswith("invalid literal for int()"):
            raise ArgumentError(f"Invalid value for {label}: '{raw}' is not an integer") from exc
        if kind == "float" or text.startswith("could not convert string to float"):
            raise ArgumentError(f"Invalid value for {label}: '{raw}' is not a number") from exc
        raise ArgumentError(f"Invalid value for {label}: '{raw}': {exc}") from exc


def _looks_like_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def parse_args(
    options: Sequence[Option], arguments: Sequence[Argument], tokens: Sequence[str]
) -> ParsedArgs:
    """Parse tokens against a spec. Raises :class:`ArgumentError` with an Arthas-style message."""
    all_options = (*options, HELP_OPTION)
    by_long = {o.long: o for o in all_options}
    by_short = {o.short: o for o in all_options if o.short}
    values = ParsedArgs({o.key: ([] if o.multi else o.default) for o in all_options})
    if HELP_OPTION.key in values:
        values[HELP_OPTION.key] = False
    for o in options:
        if o.flag and values[o.key] is None:
            values[o.key] = False
    positionals: list[str] = []

    def take(option: Option, raw: str | None, index: int) -> int:
        if option.flag:
            if raw is not None:
                if raw.lower() in ("true", "false"):
                    values[option.key] = raw.lower() == "true"
                    return index
                raise ArgumentError(f"Option '{option.long}' takes no value")
            values[option.key] = True
            return index
        if raw is None:
            if index + 1 >= len(tokens):
                raise ArgumentError(f"The option '{option.long}' requires a value")
            index += 1
            raw = tokens[index]
        value = _convert(option, raw, f"option '{option.long}'")
        if option.multi:
            values[option.key].append(value)
        else:
            values[option.key] = value
        return index

    i, only_positionals = 0, False
    while i < len(tokens):
        token = tokens[i]
        if only_positionals or token == "-" or not token.startswith("-"):
            positionals.append(token)
        elif token == "--":
            only_positionals = True
        elif token.startswith("--"):
            name, eq, raw = token[2:].partition("=")
            option = by_long.get(name)
            if option is None:
                raise ArgumentError(f"Unrecognized option: '{token}'")
            i = take(option, raw if eq else None, i)
        else:
            body = token[1:]
            option = by_short.get(body) or by_long.get(body)
            if option is not None:
                i = take(option, None, i)
            elif _looks_like_number(token):
                positionals.append(token)
            elif body[:1] in by_short and not by_short[body[0]].flag:
                i = take(by_short[body[0]], body[1:], i)  # -n5
            elif all(c in by_short and by_short[c].flag for c in body):
                for c in body:  # -bes
                    values[by_short[c].key] = True
            else:
                raise ArgumentError(f"Unrecognized option: '{token}'")
        i += 1

    if values[HELP_OPTION.key]:
        return values
    index = 0
    for argument in arguments:
        if argument.multi:
            rest = positionals[index:]
            if argument.required and not rest:
                raise ArgumentError(f"The argument '{argument.name}' is required")
            values[argument.key] = [_convert(argument, t, f"'{argument.name}'") for t in rest]
            index = len(positionals)
        elif index < len(positionals):
            values[argument.key] = _convert(argument, positionals[index], f"'{argument.name}'")
            index += 1
        elif argument.required:
            raise ArgumentError(f"The argument '{argument.name}' is required")
        else:
            values[argument.key] = argument.default
    if index < len(positionals):
        extra = " ".join(positionals[index:])
        raise ArgumentError(f"Too many arguments: {extra}")
    return values
