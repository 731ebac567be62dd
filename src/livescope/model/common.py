"""Result models shared by the whole agent: job status, session-level items, enhancement effects."""

from __future__ import annotations

from dataclasses import dataclass

from livescope.model.base import ResultModel


@dataclass(kw_only=True)
class StatusModel(ResultModel):
    """Exactly one per job, always its last item. 0 is success, like a process exit code."""

    type = "status"
    status_code: int = 0
    message: str | None = None


@dataclass(kw_only=True)
class MessageModel(ResultModel):
    type = "message"
    message: str


@dataclass(kw_only=True)
class InputStatusModel(ResultModel):
    """Tells a UI whether it may send a command (ALLOW_INPUT) or interrupt one (ALLOW_INTERRUPT)."""

    type = "input_status"
    input_status: str


@dataclass(kw_only=True)
class CommandRequestModel(ResultModel):
    """Echo of an ``async_exec`` command line, so shared sessions show what was typed."""

    type = "command"
    command: str
    state: str
    message: str | None = None


@dataclass(kw_only=True)
class WelcomeModel(ResultModel):
    type = "welcome"
    pid: str
    time: str
    version: str
    main_class: str
    wiki: str
    tutorials: str


@dataclass(kw_only=True)
class RowAffectModel(ResultModel):
    type = "row_affect"
    row_count: int


@dataclass(kw_only=True)
class EnhancerAffectVO:
    """What an enhancement (or a reset) touched: classes, methods, the listener and the time."""

    cost: int = 0
    class_count: int = 0
    method_count: int = 0
    listener_id: int = 0
    methods: list[str] | None = None
    over_limit_msg: str | None = None
    throwable: dict | None = None


@dataclass(kw_only=True)
class EnhancerModel(ResultModel):
    type = "enhancer"
    success: bool
    effect: EnhancerAffectVO | None = None
    message: str | None = None
