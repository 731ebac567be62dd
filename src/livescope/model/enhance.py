"""Result models of watch, stack, trace, tt and monitor (Arthas field names)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from livescope.model.base import ResultModel, json_field


@dataclass(kw_only=True)
class WatchModel(ResultModel):
    type = "watch"
    ts: str
    cost: float
    value: Any = None
    size_limit: int = 10485760
    expand: int = 1
    class_name: str | None = None
    method_name: str | None = None
    access_point: str | None = None


@dataclass(kw_only=True)
class StackModel(ResultModel):
    type = "stack"
    ts: str
    cost: float
    thread_name: str
    thread_id: str
    daemon: bool
    priority: int = 5
    classloader: str | None = None
    stack_trace: list[dict] | None = None


@dataclass(kw_only=True)
class MonitorData:
    class_name: str
    method_name: str
    total: int = 0
    success: int = 0
    failed: int = 0
    cost: float = 0.0
    timestamp: str | None = None


@dataclass(kw_only=True)
class MonitorModel(ResultModel):
    type = "monitor"
    monitor_data_list: list[MonitorData]


@dataclass(kw_only=True)
class MethodNode:
    """One traced call; costs in nanoseconds (min/max/total over ``times`` merged calls)."""

    type: str = "method"
    class_name: str
    method_name: str
    line_number: int = -1
    cost: int = 0
    min_cost: int = 0
    max_cost: int = 0
    total_cost: int = 0
    times: int = 0
    invoking: bool = False
    throw: bool | None = None
    throw_exp: str | None = None
    children: list[Any] | None = None


@dataclass(kw_only=True)
class ThreadNode:
    type: str = "thread"
    thread_name: str
    thread_id: int
    daemon: bool
    priority: int = 5
    classloader: str | None = None
    timestamp: str
    children: list[Any] | None = None


@dataclass(kw_only=True)
class TraceModel(ResultModel):
    type = "trace"
    root: ThreadNode
    node_count: int


@dataclass(kw_only=True)
class TimeFragmentVO:
    index: int
    timestamp: str
    cost: float
    is_return: bool = json_field("return")
    is_throw: bool = json_field("throw")
    object: Any = None
    class_name: str
    method_name: str
    params: list[Any] | None = None
    return_obj: Any = None
    throw_exp: Any = None


@dataclass(kw_only=True)
class TimeTunnelModel(ResultModel):
    type = "tt"
    time_fragment_list: list[TimeFragmentVO] | None = None
    time_fragment: TimeFragmentVO | None = None
    expand: int | None = None
    size_limit: int | None = None
    watch_value: Any = None
    replay_result: TimeFragmentVO | None = None
    replay_no: int | None = None
    first: bool | None = None
