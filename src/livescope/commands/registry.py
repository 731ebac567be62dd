"""The command registry: every command class, found by name.

Command families live in their own modules (basic, system, threads, code, objects, logger,
profiler, enhance); each module lists its classes in ``COMMANDS``. Modules are imported on the
first lookup, not when the agent starts, so an idle agent stays small.
"""

from __future__ import annotations

import importlib
import threading

from livescope.commands.base import Command

COMMAND_MODULES = (
    "livescope.commands.basic",
    "livescope.commands.enhance",
    "livescope.commands.threads",
    "livescope.commands.system",
    "livescope.commands.code",
    "livescope.commands.objects",
    "livescope.commands.logger",
    "livescope.commands.profiler",
)

_commands: dict[str, type[Command]] | None = None
# The program's thread may register a plugin while the agent thread makes the first lookup; without
# the lock both would build the table and the later one would drop the other's registration.
_build_lock = threading.Lock()


def all_commands() -> dict[str, type[Command]]:
    """Every registered command by name, in the order the modules declare them."""
    global _commands
    if _commands is None:
        with _build_lock:
            if _commands is None:
                found: dict[str, type[Command]] = {}
                for module_name in COMMAND_MODULES:
                    module = importlib.import_module(module_name)
                    for cls in getattr(module, "COMMANDS", ()):
                        found[cls.name] = cls
                _commands = found
    return _commands


def find_command(name: str) -> type[Command] | None:
    return all_commands().get(name)


def register(cls: type[Command]) -> type[Command]:
    """Add (or replace) one command by name; for plugins and test programs. Usable as decorator."""
    all_commands()[cls.name] = cls
    return cls
