"""Result models of the basic commands (version, help, session, sysprop, options, stop, ...).

Field names follow the Arthas result models, so API clients written for Arthas read them as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from livescope.model.base import ResultModel
from livescope.model.common import EnhancerAffectVO


@dataclass(kw_only=True)
class VersionModel(ResultModel):
    type = "version"
    version: str


@dataclass(kw_only=True)
class CommandOptionVO:
    long_name: str
    short_name: str | None = None
    description: str = ""
    accept_value: bool = False


@dataclass(kw_only=True)
class ArgumentVO:
    arg_name: str
    required: bool = True
    multi_valued: bool = False


@dataclass(kw_only=True)
class CommandVO:
    """A command as ``help`` describes it; the list form leaves description and usage out."""

    name: str
    summary: str
    description: str | None = None
    usage: str | None = None
    options: list[CommandOptionVO] = field(default_factory=list)
    arguments: list[ArgumentVO] = field(default_factory=list)


@dataclass(kw_only=True)
class HelpModel(ResultModel):
    type = "help"
    commands: list[CommandVO] | None = None
    detail_command: CommandVO | None = None


@dataclass(kw_only=True)
class SessionModel(ResultModel):
    type = "session"
    java_pid: int
    session_id: str
    tunnel_connected: bool = False
    user_id: str | None = None
    agent_id: str | None = None


@dataclass(kw_only=True)
class SystemPropertyModel(ResultModel):
    type = "sysprop"
    props: dict[str, str]


@dataclass(kw_only=True)
class SystemEnvModel(ResultModel):
    type = "sysenv"
    env: dict[str, str]


@dataclass(kw_only=True)
class EchoModel(ResultModel):
    type = "echo"
    content: str


@dataclass(kw_only=True)
class PwdModel(ResultModel):
    type = "pwd"
    working_dir: str


@dataclass(kw_only=True)
class CatModel(ResultModel):
    type = "cat"
    file: str
    content: str


@dataclass(kw_only=True)
class Base64Model(ResultModel):
    type = "base64"
    content: str | None = None


@dataclass(kw_only=True)
class HistoryModel(ResultModel):
    type = "history"
    history: list[str]


@dataclass(kw_only=True)
class OptionVO:
    level: int
    type: str
    name: str
    summary: str
    description: str
    value: str


@dataclass(kw_only=True)
class ChangeResultVO:
    name: str
    before_value: Any
    after_value: Any


@dataclass(kw_only=True)
class OptionsModel(ResultModel):
    type = "options"
    options: list[OptionVO] | None = None
    change_result: ChangeResultVO | None = None


@dataclass(kw_only=True)
class ResetModel(ResultModel):
    type = "reset"
    affect: EnhancerAffectVO


@dataclass(kw_only=True)
class ShutdownModel(ResultModel):
    type = "shutdown"
    graceful: bool = True
    message: str | None = None
