"""Text views of result models: one function per result ``type``, a generic one for the rest.

Every view takes the result dict exactly as the API sends it and returns a rich renderable
(or ``None`` for items that have nothing to show, such as ``input_status``). Views never
fail on missing fields: an agent may omit anything that is null.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from livescope.model.textforms import (
    MONITOR_COLUMNS,
    THREAD_COLUMNS,
    TT_COLUMNS,
    affect_text,
    fmt,
    frame_text,
    history_lines,
    line_head,
    method_cost,
    method_label,
    method_throws,
    monitor_rows,
    option_names,
    row_affect_text,
    thread_head,
    thread_info_frames,
    thread_info_head,
    thread_summary,
    throw_label,
    tt_rows,
    view_registrar,
    watch_head,
)

View = Callable[[dict[str, Any]], RenderableType | None]
VIEWS: dict[str, View] = {}
HIDDEN_KEYS = ("type", "jobId")


view = view_registrar(VIEWS)


def render(item: dict[str, Any]) -> RenderableType | None:
    """The renderable for one result item; unknown types get the generic view."""
    return VIEWS.get(str(item.get("type")), generic)(item)


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
    line = affect_text(effect)
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
    return Text(row_affect_text(item))


@view("watch")
def watch(item: dict[str, Any]) -> RenderableType:
    return Group(Text(watch_head(item), style="cyan"), Text(fmt(item.get("value"))))


@view("line")
def line(item: dict[str, Any]) -> RenderableType:
    return Group(Text(line_head(item), style="cyan"), Text(fmt(item.get("value"))))


def trace_label(node: dict[str, Any]) -> Text:
    kind = node.get("type")
    if kind == "thread":
        return Text(thread_head(node), style="cyan")
    if kind == "throw":
        return Text(throw_label(node), style="red")
    label = Text(method_cost(node) + " ", style="yellow")
    label.append(method_label(node))
    if node.get("throw"):
        label.append(method_throws(node), style="red")
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


@view("stack")
def stack(item: dict[str, Any]) -> RenderableType:
    head = thread_head(item, "ts")
    frames = item.get("stackTrace") or []
    return Text("\n".join([head] + [frame_text(f) for f in frames]))


def thread_info_text(info: dict[str, Any]) -> Text:
    text = Text(thread_info_head(info), style="bold")
    for line in thread_info_frames(info):
        text.append("\n" + line)
    return text


@view("thread")
def thread(item: dict[str, Any]) -> RenderableType:
    parts: list[RenderableType] = []
    counts = item.get("threadStateCount")
    if counts:
        parts.append(Text(thread_summary(counts), style="bold"))
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


@view("tt")
def tt(item: dict[str, Any]) -> RenderableType:
    fragments = item.get("timeFragmentList")
    if fragments is not None:
        table = rows_table(tt_rows(fragments), TT_COLUMNS)
        table.show_header = bool(item.get("first", True))
        return table
    if item.get("timeFragment"):
        return kv_table(item["timeFragment"])
    return generic(item)


@view("monitor")
def monitor(item: dict[str, Any]) -> RenderableType:
    return rows_table(monitor_rows(item), MONITOR_COLUMNS)


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
                table.add_row(
                    Text(option_names(opt), style="cyan"), Text(str(opt.get("description", "")))
                )
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
    return Text("\n".join(history_lines(item.get("history") or [])))


@view("reset")
def reset(item: dict[str, Any]) -> RenderableType:
    return Text(affect_text(item.get("affect") or {}, listener=False))


@view("shutdown")
def shutdown(item: dict[str, Any]) -> RenderableType | None:
    return None


__all__ = ["VIEWS", "generic", "render"]
