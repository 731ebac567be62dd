"""Text views of result models: one function per result ``type``, a generic one for the rest.

Every view takes the result dict exactly as the API sends it and returns a rich renderable
(or ``None`` for items that have nothing to show, such as ``input_status``). Views never
fail on missing fields: an agent may omit anything that is null.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

View = Callable[[dict[str, Any]], RenderableType | None]
VIEWS: dict[str, View] = {}
HIDDEN_KEYS = ("type", "jobId")


def view(*types: str) -> Callable[[View], View]:
    def register(func: View) -> View:
        for name in types:
            VIEWS[name] = func
        return func

    return register


def render(item: dict[str, Any]) -> RenderableType | None:
    """The renderable for one result item; unknown types get the generic view."""
    return VIEWS.get(str(item.get("type")), generic)(item)


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


def fields(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in HIDDEN_KEYS}


def kv_table(data: dict[str, Any], key_header: str = "KEY", value_header: str = "VALUE") -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column(key_header, no_wrap=True)
    table.add_column(value_header, overflow="fold")
    for key, value in data.items():
        table.add_row(Text(str(key), style="cyan"), Text(fmt(value)))
    return table


def rows_table(rows: Iterable[dict[str, Any]], columns: list[str] | None = None) -> Table:
    """A table of dicts; columns are the union of keys in first-seen order unless given."""
    rows = list(rows)
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in columns:
        table.add_column(column.upper(), overflow="fold")
    for row in rows:
        table.add_row(*[Text(fmt(row.get(c, ""))) for c in columns])
    return table


def generic(item: dict[str, Any]) -> RenderableType:
    """Fallback: scalars as a key/value table, lists of objects as tables, the rest as JSON."""
    parts: list[RenderableType] = []
    scalars: dict[str, Any] = {}
    for key, value in fields(item).items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            parts.append(Text(key, style="bold"))
            parts.append(rows_table(value))
        elif (
            isinstance(value, dict)
            and value
            and not any(isinstance(v, (dict, list)) for v in value.values())
        ):
            parts.append(Text(key, style="bold"))
            parts.append(kv_table(value))
        else:
            scalars[key] = value
    if scalars:
        parts.insert(0, kv_table(scalars))
    return Group(*parts) if parts else Text("")


@view("input_status", "command")
def hidden(item: dict[str, Any]) -> None:
    """Protocol bookkeeping: the console acts on these, it does not print them."""
    return None


@view("status")
def status(item: dict[str, Any]) -> RenderableType | None:
    code = item.get("statusCode", 0)
    message = item.get("message")
    if code == 0:
        return Text(message) if message else None
    return Text(message or f"command failed with status {code}", style="red")


@view("message")
def message(item: dict[str, Any]) -> RenderableType:
    return Text(str(item.get("message", "")))


@view("welcome")
def welcome(item: dict[str, Any]) -> RenderableType:
    table = Table(box=None, show_header=False, pad_edge=False)
    for key in ("wiki", "tutorials", "version", "mainClass", "pid", "time"):
        if key in item:
            table.add_row(Text(key, style="cyan"), Text(fmt(item[key])))
    return Group(Text("livescope", style="bold green"), table)


@view("version")
def version(item: dict[str, Any]) -> RenderableType:
    return Text(str(item.get("version", "")))


@view("enhancer")
def enhancer(item: dict[str, Any]) -> RenderableType:
    effect = item.get("effect") or {}
    line = (
        f"Affect(class count: {effect.get('classCount', 0)} , "
        f"method count: {effect.get('methodCount', 0)}) cost in {effect.get('cost', 0)} ms, "
        f"listenerId: {effect.get('listenerId', '')}"
    )
    parts: list[RenderableType] = []
    if item.get("message"):
        parts.append(Text(item["message"], style=None if item.get("success") else "red"))
    if item.get("success", True) or effect:
        parts.append(Text(line, style="green" if item.get("success") else None))
    if effect.get("overLimitMsg"):
        parts.append(Text(effect["overLimitMsg"], style="yellow"))
    return Group(*parts)


@view("row_affect")
def row_affect(item: dict[str, Any]) -> RenderableType:
    return Text(f"Affect(row-cnt:{item.get('rowCount', 0)})")


def ts_text(value: Any) -> str:
    """Timestamps arrive as text or as epoch milliseconds."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return str(value or "")


@view("watch")
def watch(item: dict[str, Any]) -> RenderableType:
    where = ""
    if item.get("className"):
        where = (
            f"method={item.get('className')}.{item.get('methodName', '')} "
            f"location={item.get('accessPoint', '')}\n"
        )
    head = f"{where}ts={ts_text(item.get('ts'))}; [cost={item.get('cost', 0)}ms] result="
    return Group(Text(head, style="cyan"), Text(fmt(item.get("value"))))


@view("line")
def line(item: dict[str, Any]) -> RenderableType:
    head = (
        f"ts={ts_text(item.get('ts'))}; [cost={item.get('cost', 0)}ms] "
        f"{item.get('className', '')}.{item.get('methodName', '')}:{item.get('lineNumber', '')}"
    )
    return Group(Text(head, style="cyan"), Text(fmt(item.get("value"))))


def ms(nanos: Any) -> str:
    try:
        return f"{float(nanos) / 1e6:.6f}".rstrip("0").rstrip(".") + "ms"
    except (TypeError, ValueError):
        return str(nanos)


def trace_label(node: dict[str, Any]) -> Text:
    kind = node.get("type")
    if kind == "thread":
        return Text(
            f"ts={ts_text(node.get('timestamp'))};thread_name={node.get('threadName', '')};"
            f"id={node.get('threadId', '')};is_daemon={fmt(node.get('daemon', False))};"
            f"priority={node.get('priority', '')};",
            style="cyan",
        )
    if kind == "throw":
        return Text(
            f"throw:{node.get('exception', '')} #{node.get('lineNumber', '')} "
            f"[{node.get('message', '')}]",
            style="red",
        )
    times = node.get("times", 1)
    if times and times > 1:
        cost = (
            f"[min={ms(node.get('minCost'))},max={ms(node.get('maxCost'))},"
            f"total={ms(node.get('totalCost'))},count={times}]"
        )
    else:
        cost = f"[{ms(node.get('cost', node.get('totalCost', 0)))}]"
    line_no = node.get("lineNumber")
    at = f" #{line_no}" if line_no not in (None, -1, 0) else ""
    label = Text(cost + " ", style="yellow")
    label.append(f"{node.get('className', '')}:{node.get('methodName', '')}(){at}")
    if node.get("throw"):
        label.append(f" [throws {node.get('throwExp') or 'Exception'}]", style="red")
    return label


def add_children(tree: Tree, node: dict[str, Any]) -> None:
    for child in node.get("children") or []:
        add_children(tree.add(trace_label(child)), child)


@view("trace")
def trace(item: dict[str, Any]) -> RenderableType:
    root = item.get("root") or {}
    tree = Tree(trace_label(root))
    add_children(tree, root)
    return tree


def frame_text(frame: Any) -> str:
    if not isinstance(frame, dict):
        return str(frame)
    where = frame.get("fileName") or ""
    if frame.get("lineNumber") not in (None, -1):
        where += f":{frame.get('lineNumber')}"
    return f"    @{frame.get('className', '')}.{frame.get('methodName', '')}({where})"


@view("stack")
def stack(item: dict[str, Any]) -> RenderableType:
    head = (
        f"ts={ts_text(item.get('ts'))};thread_name={item.get('threadName', '')};"
        f"id={item.get('threadId', '')};is_daemon={fmt(item.get('daemon', False))};"
        f"priority={item.get('priority', '')};"
    )
    frames = item.get("stackTrace") or []
    return Text("\n".join([head] + [frame_text(f) for f in frames]))


THREAD_COLUMNS = ["id", "name", "group", "priority", "state", "cpu", "deltaTime", "time"]
THREAD_COLUMNS += ["interrupted", "daemon"]


def thread_info_text(info: dict[str, Any]) -> Text:
    text = Text(
        f'"{info.get("threadName", "")}" Id={info.get("threadId", "")} '
        f"{info.get('threadState', '')}",
        style="bold",
    )
    if info.get("lockName"):
        text.append(f" on {info['lockName']}")
        if info.get("lockOwnerName"):
            text.append(f' owned by "{info["lockOwnerName"]}" Id={info.get("lockOwnerId")}')
    for frame in info.get("stackTrace") or []:
        text.append("\n" + frame_text(frame).replace("    @", "    at ", 1))
    return text


@view("thread")
def thread(item: dict[str, Any]) -> RenderableType:
    parts: list[RenderableType] = []
    counts = item.get("threadStateCount")
    if counts:
        summary = ", ".join(f"{k}: {v}" for k, v in counts.items())
        parts.append(Text(f"Threads Total: {sum(counts.values())}, {summary}", style="bold"))
    if item.get("threadStats"):
        parts.append(rows_table(item["threadStats"], THREAD_COLUMNS))
    if item.get("threadInfo"):
        parts.append(thread_info_text(item["threadInfo"]))
    for busy in item.get("busyThreads") or []:
        head = Text(f"cpuUsage={busy.get('cpu', '')}% deltaTime={busy.get('deltaTime', '')}ms ")
        parts.append(Group(head, thread_info_text(busy)))
    blocking = item.get("blockingLockInfo")
    if blocking:
        parts.append(thread_info_text(blocking.get("threadInfo") or {}))
        parts.append(
            Text(f"    but blocks {blocking.get('blockingThreadCount', 0)} other threads!")
        )
    rest = {k: v for k, v in fields(item).items() if k not in THREAD_KEYS}
    return Group(*parts, *([generic(rest)] if rest else []))


THREAD_KEYS = {"threadStateCount", "threadStats", "threadInfo", "busyThreads"}
THREAD_KEYS |= {"blockingLockInfo", "all"}


@view("sysprop")
def sysprop(item: dict[str, Any]) -> RenderableType:
    return kv_table(item.get("props") or {})


@view("sysenv")
def sysenv(item: dict[str, Any]) -> RenderableType:
    return kv_table(item.get("env") or {})


@view("jvm")
def jvm(item: dict[str, Any]) -> RenderableType:
    parts: list[RenderableType] = []
    for group, entries in (item.get("jvmInfo") or {}).items():
        parts.append(Text(group, style="bold magenta"))
        parts.append(kv_table({e.get("name", ""): e.get("value") for e in entries}))
    return Group(*parts)


def memory_tables(info: dict[str, Any]) -> list[RenderableType]:
    parts: list[RenderableType] = []
    for kind, entries in info.items():
        parts.append(Text(kind, style="bold"))
        parts.append(rows_table(entries, ["name", "used", "total", "max"]))
    return parts


@view("memory")
def memory(item: dict[str, Any]) -> RenderableType:
    return Group(*memory_tables(item.get("memoryInfo") or {}))


@view("dashboard")
def dashboard(item: dict[str, Any]) -> RenderableType:
    parts: list[RenderableType] = []
    if item.get("threads"):
        parts.append(rows_table(item["threads"], ["id", "name", "state", "cpu", "time", "daemon"]))
    parts.extend(memory_tables(item.get("memoryInfo") or {}))
    if item.get("gcInfos"):
        parts.append(rows_table(item["gcInfos"]))
    if item.get("runtimeInfo"):
        parts.append(kv_table(item["runtimeInfo"]))
    return Group(*parts)


@view("sc")
def sc(item: dict[str, Any]) -> RenderableType:
    if item.get("classNames") is not None:
        return Text("\n".join(item["classNames"]))
    if item.get("classInfo"):
        info = dict(item["classInfo"])
        field_list = info.pop("fields", None)
        parts: list[RenderableType] = [kv_table(info)]
        if field_list:
            parts.append(rows_table(field_list, ["name", "type", "modifier", "value"]))
        return Group(*parts)
    return generic(item)


@view("sm")
def sm(item: dict[str, Any]) -> RenderableType:
    method = item.get("methodInfo") or {}
    if not item.get("detail"):
        params = ", ".join(method.get("parameters") or [])
        return Text(f"{method.get('declaringClass', '')} {method.get('methodName', '')}({params})")
    return kv_table(method)


@view("jad")
def jad(item: dict[str, Any]) -> RenderableType:
    if item.get("source") is None:
        return generic(item)
    parts: list[RenderableType] = []
    info = item.get("classInfo") or {}
    if info:
        parts.append(Text(f"ClassLoader: {fmt(info.get('classloader', ''))}", style="cyan"))
    if item.get("location"):
        parts.append(Text(f"Location: {item['location']}", style="cyan"))
    parts.append(Syntax(item["source"], "python", theme="ansi_dark", background_color="default"))
    return Group(*parts)


TT_COLUMNS = ["index", "timestamp", "cost", "isReturn", "isException", "object", "className"]
TT_COLUMNS += ["methodName"]


@view("tt")
def tt(item: dict[str, Any]) -> RenderableType:
    fragments = item.get("timeFragmentList")
    if fragments is not None:
        rows = [
            {**f, "isReturn": f.get("return"), "isException": f.get("throw")} for f in fragments
        ]
        table = rows_table(rows, TT_COLUMNS)
        table.show_header = bool(item.get("first", True))
        return table
    if item.get("timeFragment"):
        return kv_table(item["timeFragment"])
    return generic(item)


@view("monitor")
def monitor(item: dict[str, Any]) -> RenderableType:
    rows = []
    for entry in item.get("monitorDataList") or []:
        total = entry.get("total") or 0
        failed = entry.get("failed") or 0
        rt = (entry.get("cost") or 0) / total if total else 0
        rate = f"{100 * failed / total:.2f}%" if total else "0.00%"
        rows.append({**entry, "rt": f"{rt:.2f}", "fail-rate": rate})
    cols = ["timestamp", "className", "methodName", "total", "success", "failed", "rt"]
    return rows_table(rows, cols + ["fail-rate"])


@view("ognl", "vmtool")
def value_view(item: dict[str, Any]) -> RenderableType:
    if "value" in item:
        return Text(fmt(item["value"]))
    return generic(item)


@view("getstatic")
def getstatic(item: dict[str, Any]) -> RenderableType:
    if "field" in item:
        return Text(f"field: {item.get('fieldName', '')}\n{fmt(item['field'])}")
    return generic(item)


@view("help")
def help_view(item: dict[str, Any]) -> RenderableType:
    detail = item.get("detailCommand")
    if detail:
        parts: list[RenderableType] = [
            Text("USAGE:", style="bold"),
            Text("  " + str(detail.get("usage") or detail.get("name", ""))),
            Text("SUMMARY:", style="bold"),
            Text("  " + str(detail.get("summary", ""))),
        ]
        if detail.get("description"):
            parts += [Text("DESCRIPTION:", style="bold"), Text(str(detail["description"]))]
        options = detail.get("options") or []
        if options:
            table = Table(box=None, show_header=False, pad_edge=False)
            for opt in options:
                names = ", ".join(
                    n
                    for n in (
                        f"-{opt['shortName']}" if opt.get("shortName") else "",
                        f"--{opt['longName']}" if opt.get("longName") else "",
                    )
                    if n
                )
                table.add_row(Text(names, style="cyan"), Text(str(opt.get("description", ""))))
            parts += [Text("OPTIONS:", style="bold"), table]
        return Group(*parts)
    table = Table("NAME", "DESCRIPTION", box=None, header_style="bold", pad_edge=False)
    for command in item.get("commands") or []:
        table.add_row(Text(command.get("name", ""), style="cyan"), command.get("summary", ""))
    return table


@view("session")
def session(item: dict[str, Any]) -> RenderableType:
    return kv_table(fields(item), "Name", "Value")


@view("options")
def options(item: dict[str, Any]) -> RenderableType:
    if item.get("options") is not None:
        return rows_table(item["options"], ["level", "type", "name", "value", "summary"])
    return generic(item)


@view("echo", "base64", "cat")
def content(item: dict[str, Any]) -> RenderableType:
    return Text(fmt(item.get("content", "")))


@view("pwd")
def pwd(item: dict[str, Any]) -> RenderableType:
    return Text(str(item.get("workingDir", "")))


@view("history")
def history(item: dict[str, Any]) -> RenderableType:
    return Text("\n".join(f"{i:5d}  {h}" for i, h in enumerate(item.get("history") or [], 1)))


@view("reset")
def reset(item: dict[str, Any]) -> RenderableType:
    affect = item.get("affect") or {}
    return Text(
        f"Affect(class count: {affect.get('classCount', 0)} , "
        f"method count: {affect.get('methodCount', 0)}) cost in {affect.get('cost', 0)} ms"
    )


@view("shutdown")
def shutdown(item: dict[str, Any]) -> RenderableType | None:
    return None


__all__ = ["VIEWS", "generic", "render"]
