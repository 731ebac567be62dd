"""The basic commands: version, help, session, sysprop, sysenv, echo, pwd, cat, base64, history,
options, reset, stop (and the terminal-only keymap and cls).

They read the interpreter and the agent, never the user's code, so they are safe at any time.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import os
import stat
import sys
from collections.abc import Callable
from typing import Any

from livescope.agent.options import OPTION_SPECS, OptionSpec
from livescope.commands.base import AgentView, Command, CommandContext, CommandError
from livescope.commands.spec import HELP_OPTION, Argument, Option, ParsedArgs, positive_int
from livescope.model.basic import (
    ArgumentVO,
    Base64Model,
    CatModel,
    ChangeResultVO,
    CommandOptionVO,
    CommandVO,
    EchoModel,
    HelpModel,
    HistoryModel,
    OptionsModel,
    OptionVO,
    PwdModel,
    ResetModel,
    SessionModel,
    ShutdownModel,
    SystemEnvModel,
    SystemPropertyModel,
    VersionModel,
)
from livescope.model.common import EnhancerAffectVO, MessageModel

# Largest file ``cat`` and ``base64`` read: results travel in one JSON response.
MAX_FILE_SIZE = 10 * 1024 * 1024


class VersionCommand(Command):
    name = "version"
    summary = "Display livescope version"

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        ctx.emit(VersionModel(version=ctx.agent.version))


# ---------------------------------------------------------------------------------------- help


def usage_line(cls: type[Command]) -> str:
    """The one-line synopsis, built from the declared spec unless the command wrote its own."""
    if cls.usage:
        return cls.usage
    parts = [cls.name]
    for option in (*cls.options, HELP_OPTION):
        flag = f"-{option.short}" if option.short else f"--{option.long}"
        value = "" if option.flag else f" <{option.metavar or option.long}>"
        parts.append(f"[{flag}{value}]")
    for argument in cls.arguments:
        text = argument.name + ("..." if argument.multi else "")
        parts.append(f"<{text}>" if argument.required else f"[{text}]")
    return " ".join(parts)


def describe_command(cls: type[Command], detail: bool = True) -> CommandVO:
    """``help``'s view of a command; ``detail`` adds description, usage, options and arguments."""
    if not detail:
        return CommandVO(name=cls.name, summary=cls.summary)
    options = [
        CommandOptionVO(
            long_name=o.long, short_name=o.short, description=o.help, accept_value=not o.flag
        )
        for o in (*cls.options, HELP_OPTION)
    ]
    arguments = [
        ArgumentVO(arg_name=a.name, required=a.required, multi_valued=a.multi)
        for a in cls.arguments
    ]
    description = cls.description or cls.summary
    if cls.examples:
        description += "\n\nEXAMPLES:\n" + "\n".join(f"  {e}" for e in cls.examples)
    return CommandVO(
        name=cls.name,
        summary=cls.summary,
        description=description,
        usage=usage_line(cls),
        options=options,
        arguments=arguments,
    )


class HelpCommand(Command):
    name = "help"
    summary = "Display livescope help"
    arguments = (Argument("cmd", "command name", required=False),)
    examples = ("help", "help sc")

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        commands = ctx.agent.commands()
        wanted = self.name if args.get("help") else args.cmd  # `help -h` describes help
        if wanted is None:
            ctx.emit(HelpModel(commands=[describe_command(c, detail=False) for c in commands]))
            return
        for cls in commands:
            if cls.name == wanted:
                ctx.emit(HelpModel(detail_command=describe_command(cls)))
                return
        raise CommandError(f"Not found command: {wanted}; run 'help' to list every command")


# ------------------------------------------------------------------------------- session, env


class SessionCommand(Command):
    name = "session"
    summary = "Display current session information"

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        ctx.emit(
            SessionModel(
                java_pid=os.getpid(),
                session_id=ctx.session.session_id,
                tunnel_connected=False,
                user_id=ctx.session.user_id,
            )
        )


def interpreter_properties() -> dict[str, str]:
    """The interpreter's facts under Java-style names, so Arthas recipes (classpath) still work."""
    import getpass
    import locale

    try:
        user = getpass.getuser()
    except Exception:  # no login name (containers without passwd entry)
        user = str(os.getuid()) if hasattr(os, "getuid") else ""
    path = os.pathsep.join(sys.path)
    return {
        "python.version": sys.version.split()[0],
        "python.implementation": sys.implementation.name,
        "python.executable": sys.executable,
        "python.prefix": sys.prefix,
        "python.path": path,
        "java.class.path": path,
        "os.name": os.name,
        "sys.platform": sys.platform,
        "user.dir": os.getcwd(),
        "user.home": os.path.expanduser("~"),
        "user.name": user,
        "file.encoding": locale.getpreferredencoding(False),
        "line.separator": os.linesep,
        "path.separator": os.pathsep,
        "file.separator": os.sep,
    }


# Properties set with ``sysprop NAME VALUE`` (Python has no System.setProperty), with the agent
# they belong to: a restarted agent starts from a clean table.
_property_table: tuple[object, dict[str, str]] | None = None


def property_table(agent: AgentView) -> dict[str, str]:
    """The agent's table of properties set through ``sysprop``; they override computed ones."""
    global _property_table
    if _property_table is None or _property_table[0] is not agent:
        _property_table = (agent, {})
    return _property_table[1]


def system_properties(agent: AgentView) -> dict[str, str]:
    props = interpreter_properties()
    props.update(property_table(agent))
    return dict(sorted(props.items()))


class SyspropCommand(Command):
    name = "sysprop"
    summary = "Display and change the system properties"
    arguments = (
        Argument("property-name", "property name", required=False),
        Argument("property-value", "property value", required=False),
    )
    examples = ("sysprop", "sysprop java.class.path", "sysprop app.mode debug")

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        name, value = args.property_name, args.property_value
        if name is None:
            ctx.emit(SystemPropertyModel(props=system_properties(ctx.agent)))
            return
        if value is not None:
            property_table(ctx.agent)[name] = value
            ctx.emit(MessageModel(message="Successfully changed the system property."))
            ctx.emit(SystemPropertyModel(props={name: value}))
            return
        props = system_properties(ctx.agent)
        if name not in props:
            raise CommandError(f"There is no property with the key {name}", 1)
        ctx.emit(SystemPropertyModel(props={name: props[name]}))


class SysenvCommand(Command):
    name = "sysenv"
    summary = "Display the system env"
    arguments = (Argument("env-name", "environment variable name", required=False),)
    examples = ("sysenv", "sysenv HOME")

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        if args.env_name is None:
            env = dict(sorted(os.environ.items()))
        else:
            value = os.environ.get(args.env_name)
            env = {} if value is None else {args.env_name: value}
        ctx.emit(SystemEnvModel(env=env))


class EchoCommand(Command):
    name = "echo"
    summary = "Write arguments to the standard output"
    arguments = (Argument("message", "words to print", required=False, multi=True),)

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        ctx.emit(EchoModel(content=" ".join(args.message)))


class PwdCommand(Command):
    name = "pwd"
    summary = "Return working directory name"

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        ctx.emit(PwdModel(working_dir=os.getcwd()))


# ------------------------------------------------------------------------------- cat, base64


def size_limit(raw: str) -> int:
    value = int(raw)
    if not 0 < value <= MAX_FILE_SIZE:
        raise ValueError(f"must be between 1 and {MAX_FILE_SIZE}")
    return value


SIZE_LIMIT_OPTION = Option(
    "sizeLimit",
    "M",
    f"upper size limit in bytes of the file (default and maximum {MAX_FILE_SIZE})",
    type=size_limit,
    default=MAX_FILE_SIZE,
    dest="size_limit",
)


def read_file(command: str, path: str, limit: int) -> bytes:
    """The bytes of a regular file, or a CommandError (status 1) that names the problem.

    Devices and pipes are refused: reading them could block the job forever or never end.
    """
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise CommandError(f"{command} {path}: Is a directory", 1)
        if not stat.S_ISREG(info.st_mode):
            raise CommandError(f"{command} {path}: Not a regular file", 1)
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise CommandError(f"{command} {path}: No such file or directory", 1) from None
    except PermissionError:
        raise CommandError(f"{command} {path}: Permission denied", 1) from None
    except OSError as exc:
        raise CommandError(f"{command} {path}: {exc.strerror or exc}", 1) from None
    if len(data) > limit:
        size = max(info.st_size, len(data))
        hint = " (raise it with -M)" if limit < MAX_FILE_SIZE else ""
        message = f"{command} {path}: file size {size} exceeds the size limit {limit} bytes"
        raise CommandError(message + hint, 1)
    return data


def check_encoding(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ValueError(f"unknown encoding '{name}'") from None


class CatCommand(Command):
    name = "cat"
    summary = "Concatenate and print files"
    options = (
        Option("encoding", None, "file encoding (default utf-8)", type=check_encoding),
        SIZE_LIMIT_OPTION,
    )
    arguments = (Argument("files", "files to print", multi=True),)
    examples = ("cat /tmp/a.txt", "cat --encoding latin-1 /tmp/a.txt /tmp/b.txt")

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        encoding = args.encoding or "utf-8"
        contents = [(p, read_file(self.name, p, args.size_limit)) for p in args.files]
        for path, data in contents:
            ctx.emit(CatModel(file=path, content=data.decode(encoding, errors="replace")))


class Base64Command(Command):
    name = "base64"
    summary = "Encode and decode using Base64 representation"
    options = (
        Option("decode", "d", "decode data", flag=True),
        Option("input", "i", "the text to encode or decode instead of a file"),
        Option("output", "o", "write the result to this file instead of the response"),
        SIZE_LIMIT_OPTION,
    )
    arguments = (Argument("file", "the file to read", required=False),)
    examples = ("base64 /tmp/a.txt", "base64 -d /tmp/a.b64 -o /tmp/a.txt", "base64 -i hello")

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        if (args.file is None) == (args.input is None):
            raise CommandError("base64 needs exactly one of: a file argument, or --input TEXT")
        if args.input is not None:
            data = args.input.encode()
        else:
            data = read_file(self.name, args.file, args.size_limit)
        if args.decode:
            try:
                result = base64.b64decode(b"".join(data.split()), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise CommandError(f"Input is not valid base64: {exc}", 1) from None
        else:
            result = base64.b64encode(data)
        if args.output is None:
            ctx.emit(Base64Model(content=result.decode("utf-8", errors="replace")))
            return
        try:
            with open(args.output, "wb") as f:
                f.write(result)
        except OSError as exc:
            raise CommandError(f"base64: cannot write {args.output}: {exc.strerror}", 1) from None
        ctx.emit(Base64Model())


# ----------------------------------------------------------------------------------- history


class HistoryCommand(Command):
    name = "history"
    summary = "Display command history"
    options = (
        Option("clear", "c", "clear the history", flag=True, dest="clear_history"),
        Option("limit", "n", "show only the last N commands", type=positive_int),
    )
    arguments = (Argument("n", "show only the last N commands", required=False, type=positive_int),)
    examples = ("history", "history 10", "history -c")

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        if args.clear_history:  # (args.clear would be dict.clear)
            ctx.session.history.clear()
            return
        history = list(ctx.session.history)
        limit = args.limit or args.n
        if limit:
            history = history[-limit:]
        ctx.emit(HistoryModel(history=history))


# ----------------------------------------------------------------------------------- options

_JAVA_TYPE_NAMES = {bool: "boolean", str: "String", int: "int", float: "double"}


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise ValueError("expected true or false")
    return lowered == "true"


def parse_duration(raw: str) -> str:
    """A ``job-timeout`` value: kept as typed, refused unless the job timer can read it."""
    from livescope.agent.jobs import parse_duration as seconds

    if seconds(raw, default=-1.0) < 0:
        raise ValueError("expected a duration such as 90, 30s, 10m, 2h or 1d")
    return raw


_PARSERS: dict[type, Callable[[str], Any]] = {bool: parse_bool}
_OPTION_PARSERS: dict[str, Callable[[str], Any]] = {
    "job-timeout": parse_duration,
    "session-timeout": positive_int,
}


def option_vo(spec: OptionSpec, value: Any) -> OptionVO:
    return OptionVO(
        level=spec.level,
        type=_JAVA_TYPE_NAMES.get(spec.type, spec.type.__name__),
        name=spec.name,
        summary=spec.summary,
        description=spec.description or spec.summary,
        value=format_value(value),
    )


class OptionsCommand(Command):
    name = "options"
    summary = "View and change various livescope options"
    arguments = (
        Argument("options-name", "option name", required=False),
        Argument("options-value", "new value", required=False),
    )
    examples = ("options", "options json-format", "options json-format true")

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        current = ctx.agent.options
        name, raw = args.options_name, args.options_value
        if name is None:
            vos = [option_vo(s, current.get(s.name, s.default)) for s in OPTION_SPECS]
            ctx.emit(OptionsModel(options=vos))
            return
        spec = next((s for s in OPTION_SPECS if s.name == name), None)
        if spec is None:
            raise CommandError(f"options[{name}] not found.")
        before = current.get(spec.name, spec.default)
        if raw is None:
            ctx.emit(OptionsModel(options=[option_vo(spec, before)]))
            return
        try:
            parse = _OPTION_PARSERS.get(spec.name) or _PARSERS.get(spec.type, spec.type)
            after = parse(raw)
        except (TypeError, ValueError) as exc:
            type_name = _JAVA_TYPE_NAMES.get(spec.type, spec.type.__name__)
            raise CommandError(
                f"Cannot cast option value: {raw} to type: {type_name} ({exc})"
            ) from None
        current[spec.name] = after
        ctx.emit(
            OptionsModel(
                change_result=ChangeResultVO(name=spec.name, before_value=before, after_value=after)
            )
        )


# ------------------------------------------------------------------------------- reset, stop


def reset_enhancements(pattern: str | None = None) -> EnhancerAffectVO:
    """Undo instrumentation; when the engine was never loaded nothing was enhanced, so zeros."""
    engine = sys.modules.get("livescope.instrument.engine")
    if engine is None:
        return EnhancerAffectVO()
    return engine.reset(pattern)


class ResetCommand(Command):
    name = "reset"
    summary = "Reset all the enhanced functions"
    arguments = (
        Argument("class-pattern", "only functions of classes/modules matching", required=False),
    )
    examples = ("reset", "reset demo.MathGame", "reset *Game")

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        ctx.emit(ResetModel(affect=reset_enhancements(args.class_pattern)))


class StopCommand(Command):
    name = "stop"
    summary = "Stop the livescope agent: remove every hook, close every session and the port"
    description = (
        "Resets every enhanced function, answers, then shuts the agent down. The target "
        "process keeps running."
    )

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        ctx.emit(MessageModel(message="Resetting all enhanced classes ..."))
        ctx.emit(ResetModel(affect=reset_enhancements()))
        ctx.emit(ShutdownModel(graceful=True, message="livescope agent is going to shutdown..."))
        ctx.agent.shutdown()  # the agent shuts down once this response has been sent


class TtyOnlyCommand(Command):
    """Commands that only make sense in an interactive terminal (the console handles them)."""

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        raise CommandError(f"Command '{self.name}' is only support tty session.")


class KeymapCommand(TtyOnlyCommand):
    name = "keymap"
    summary = "Display all the available keymap for the specified connection"


class ClsCommand(TtyOnlyCommand):
    name = "cls"
    summary = "Clear the screen"


COMMANDS = (
    HelpCommand,
    KeymapCommand,
    VersionCommand,
    SessionCommand,
    SyspropCommand,
    SysenvCommand,
    OptionsCommand,
    HistoryCommand,
    CatCommand,
    Base64Command,
    EchoCommand,
    PwdCommand,
    ClsCommand,
    ResetCommand,
    StopCommand,
)
