"""Plain-text forms of result fields, shared by every text view of the result models.

The terminal console (rich, outside the target) and the agent's own ``/ws`` terminal (plain
ANSI, inside it) style their output differently but must say the same thing; the words and
numbers of each line are built here, from result dicts exactly as the API sends them. Every
function tolerates missing fields: an agent omits whatever is null.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

ViewT = TypeVar("ViewT", bound=Callable[..., Any])

THREAD_COLUMNS = ["id", "name", "group", "priority", "state", "cpu", "deltaTime", "time"]
THREAD_COLUMNS += ["interrupted", "daemon"]
TT_COLUMNS = ["index", "timestamp", "cost", "isReturn", "isException", "object", "className"]
TT_COLUMNS += ["methodName"]
MONITOR_COLUMNS = ["timestamp", "className", "methodName", "total", "success", "failed", "rt"]
MONITOR_COLUMNS += ["fail-rate"]


def view_registrar(table: dict[str, ViewT]) -> Callable[..., Callable[[ViewT], ViewT]]:
    """The ``@view("watch", "stack")`` decorator of a set of views: files the decorated
    function in ``table`` under each result type named."""

    def view(*types: str) -> Callable[[ViewT], ViewT]:
        def register(func: ViewT) -> ViewT:
            for name in types:
                table[name] = func
            return func

        return register

    return view


def fmt(value: Any) -> str:
    """Strings as they are (agents may send pre-rendered object text), the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        compact = json.dumps(value, ensure_ascii=False, default=str)
        if len(compact) <= 80:
            return compact
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def ts_text(value: Any) -> str:
    """Timestamps arrive as text or as epoch milliseconds."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return str(value or "")


def ms(nanos: Any) -> str:
    """Nanoseconds (trace costs) as milliseconds without trailing zeros: ``1.5ms``."""
    try:
        return f"{float(nanos) / 1e6:.6f}".rstrip("0").rstrip(".") + "ms"
    except (TypeError, ValueError):
        return str(nanos)


def affect_text(effect: dict[str, Any], listener: bool = True) -> str:
    """The enhancement summary line of enhancer (with the listener id) and reset."""
    line = (
        f"Affect(class count: {effect.get('classCount', 0)} , "
        f"method count: {effect.get('methodCount', 0)}) cost in {effect.get('cost', 0)} ms"
    )
    return f"{line}, listenerId: {effect.get('listenerId', '')}" if listener else line


def row_affect_text(item: dict[str, Any]) -> str:
    return f"Affect(row-cnt:{item.get('rowCount', 0)})"


def watch_head(item: dict[str, Any]) -> str:
    """What precedes a watch value: where it was taken, when, and what the call cost."""
    where = ""
    if item.get("className"):
        where = (
            f"method={item.get('className')}.{item.get('methodName', '')} "
            f"location={item.get('accessPoint', '')}\n"
        )
    return f"{where}ts={ts_text(item.get('ts'))}; [cost={item.get('cost', 0)}ms] result="


def line_head(item: dict[str, Any]) -> str:
    return (
        f"ts={ts_text(item.get('ts'))}; [cost={item.get('cost', 0)}ms] "
        f"{item.get('className', '')}.{item.get('methodName', '')}:{item.get('lineNumber', '')}"
    )


def thread_head(item: dict[str, Any], ts_key: str = "timestamp") -> str:
    """The thread line that heads a trace tree or a stack."""
    return (
        f"ts={ts_text(item.get(ts_key))};thread_name={item.get('threadName', '')};"
        f"id={item.get('threadId', '')};is_daemon={fmt(item.get('daemon', False))};"
        f"priority={item.get('priority', '')};"
    )


def throw_label(node: dict[str, Any]) -> str:
    return (
        f"throw:{node.get('exception', '')} #{node.get('lineNumber', '')} "
        f"[{node.get('message', '')}]"
    )


def method_cost(node: dict[str, Any]) -> str:
    """``[1.5ms]`` for one call, ``[min=…,max=…,total=…,count=N]`` for merged calls."""
    times = node.get("times", 1)
    if times and times > 1:
        return (
            f"[min={ms(node.get('minCost'))},max={ms(node.get('maxCost'))},"
            f"total={ms(node.get('totalCost'))},count={times}]"
        )
    return f"[{ms(node.get('cost', node.get('totalCost', 0)))}]"


def method_label(node: dict[str, Any]) -> str:
    line_no = node.get("lineNumber")
    at = f" #{line_no}" if line_no not in (None, -1, 0) else ""
    return f"{node.get('className', '')}:{node.get('methodName', '')}(){at}"


def method_throws(node: dict[str, Any]) -> str:
    return f" [throws {node.get('throwExp') or 'Exception'}]" if node.get("throw") else ""


def frame_text(frame: Any) -> str:
    if not isinstance(frame, dict):
        return str(frame)
    where = frame.get("fileName") or ""
    if frame.get("lineNumber") not in (None, -1):
        where += f":{frame.get('lineNumber')}"
    return f"    @{frame.get('className', '')}.{frame.get('methodName', '')}({where})"


def thread_info_head(info: dict[str, Any]) -> str:
    """``"name" Id=N STATE on lock owned by "other" Id=M``, as Java prints a thread."""
    text = f'"{info.get("threadName", "")}" Id={info.get("threadId", "")} '
    text += str(info.get("threadState", ""))
    if info.get("lockName"):
        text += f" on {info['lockName']}"
        if info.get("lockOwnerName"):
            text += f' owned by "{info["lockOwnerName"]}" Id={info.get("lockOwnerId")}'
    return text


def thread_info_frames(info: dict[str, Any]) -> list[str]:
    return [frame_text(f).replace("    @", "    at ", 1) for f in info.get("stackTrace") or []]


def thread_summary(counts: dict[str, Any]) -> str:
    summary = ", ".join(f"{k}: {v}" for k, v in counts.items())
    return f"Threads Total: {sum(counts.values())}, {summary}"


def tt_rows(fragments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**f, "isReturn": f.get("return"), "isException": f.get("throw")} for f in fragments]


def monitor_rows(item: dict[str, Any]) -> list[dict[str, Any]]:
    """monitor entries with the average ``rt`` and the ``fail-rate`` worked out."""
    rows = []
    for entry in item.get("monitorDataList") or []:
        total = entry.get("total") or 0
        failed = entry.get("failed") or 0
        rt = (entry.get("cost") or 0) / total if total else 0
        rate = f"{100 * failed / total:.2f}%" if total else "0.00%"
        rows.append({**entry, "rt": f"{rt:.2f}", "fail-rate": rate})
    return rows


def option_names(option: dict[str, Any]) -> str:
    """``-h, --help`` of one option of ``help``'s detail view."""
    names = (
        f"-{option['shortName']}" if option.get("shortName") else "",
        f"--{option['longName']}" if option.get("longName") else "",
    )
    return ", ".join(n for n in names if n)


def history_lines(history: list[Any]) -> list[str]:
    return [f"{i:5d}  {h}" for i, h in enumerate(history, 1)]
