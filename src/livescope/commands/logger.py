"""The ``logger`` command: the ``logging`` tree, and changing a logger's level at run time."""

from __future__ import annotations

import logging
from typing import Any

from livescope.commands.base import Command, CommandContext, CommandError
from livescope.commands.spec import Option, ParsedArgs, boolean
from livescope.model.inspect import LoggerModel


def _handler_info(handler: logging.Handler) -> dict[str, Any]:
    info: dict[str, Any] = {
        "name": handler.get_name() or type(handler).__name__,
        "class": f"{type(handler).__module__}.{type(handler).__qualname__}",
        "level": logging.getLevelName(handler.level),
    }
    if isinstance(handler, logging.FileHandler):
        info["file"] = handler.baseFilename
    elif isinstance(handler, logging.StreamHandler):
        info["target"] = getattr(handler.stream, "name", repr(handler.stream))
    if handler.formatter is not None:
        info["pattern"] = handler.formatter._fmt
    return info


def logger_info(logger: logging.Logger) -> dict[str, Any]:
    return {
        "name": logger.name,
        "class": f"{type(logger).__module__}.{type(logger).__qualname__}",
        "level": logging.getLevelName(logger.level),
        "effectiveLevel": logging.getLevelName(logger.getEffectiveLevel()),
        "additivity": logger.propagate,
        "disabled": logger.disabled,
        "appenders": [_handler_info(h) for h in logger.handlers],
    }


def all_loggers() -> dict[str, logging.Logger]:
    found: dict[str, logging.Logger] = {"root": logging.getLogger()}
    for name, logger in sorted(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            found[name] = logger
    return found


class LoggerCommand(Command):
    name = "logger"
    summary = "Print the logging tree, or set a logger's level"
    description = (
        "loggerInfoMap: logger name ('root' for the root logger) -> {name, class, level (the "
        "logger's own, NOTSET = inherit), effectiveLevel, additivity (= propagate), disabled, "
        "appenders: its handlers [{name, class, level, file or target stream, pattern (the "
        "formatter's format)}]}. Placeholders of the logging tree are not listed.\n"
        "--name X --level L sets logger X's level (DEBUG, INFO, WARNING, ERROR, CRITICAL, "
        "NOTSET or a number); -n alone shows one logger; --include-no-appender false shows "
        "only loggers with handlers."
    )
    usage = "logger [-n name] [-l level] [--include-no-appender false]"
    options = (
        Option("name", "n", "logger name"),
        Option("level", "l", "new level for the logger named by --name"),
        Option(
            "include-no-appender",
            None,
            "also list loggers without handlers (true or false)",
            type=boolean,
            default=True,
        ),
    )
    examples = ("logger", "logger -n demo", "logger --name demo --level DEBUG")

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        loggers = all_loggers()
        if args.level is not None:
            if not args.name:
                raise CommandError("The --level option needs --name")
            self._set_level(loggers, args.name, args.level)
            raise CommandError("Update logger level success.", 0)
        if args.name:
            if args.name not in loggers:
                raise CommandError(f"No logger found: {args.name}", 1)
            loggers = {args.name: loggers[args.name]}
        elif not args.include_no_appender:
            loggers = {k: v for k, v in loggers.items() if v.handlers}
        ctx.emit(
            LoggerModel(
                job_id=ctx.job_id,
                logger_info_map={name: logger_info(lg) for name, lg in loggers.items()},
            )
        )

    def _set_level(self, loggers: dict[str, logging.Logger], name: str, level: str) -> None:
        logger = loggers.get(name)
        if logger is None:
            raise CommandError(f"No logger found: {name}")
        value: Any = int(level) if level.isdigit() else level.upper()
        if isinstance(value, str) and not isinstance(logging.getLevelName(value), int):
            raise CommandError(f"Unknown level: {level}")
        logger.setLevel(value)


COMMANDS = (LoggerCommand,)
