"""Text views of result models for the ``/ws`` terminal: plain lines, ANSI colour optional.

The agent cannot use rich (it runs inside someone else's process), so this is the terminal
console's views again in a few generic shapes: a dict becomes a key/value table, a list of
dicts a table, nested data sections of those. A handful of types get a view of their own where
the shape says less than the words (status errors in red, watch values, traces, threads). The
words come from :mod:`livescope.model.textforms`, shared with the console, so both say the
same. Views take result dicts exactly as the API sends them and never fail on missing fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from livescope.agent.line_editor import visible_width
from livescope.model import textforms as tf

_SGR = {"bold": "1", "red": "31", "green": "32", "yellow": "33", "magenta": "35", "cyan": "36"}
HIDDEN_KEYS = ("type", "jobId")
MAX_DEPTH = 3  # nested sections deeper than this are shown as JSON
LOGO_COLOURS = ("31", "33", "32", "36", "34", "35")


class Paint:
    """Wraps text in SGR escapes, or leaves it alone when colour is off (pipes, grep)."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, style: str, text: str) -> str:
        if not self.color or not text:
            return text
        # Line by line, so that every line of a view carries its own colour and reset.
        return "\n".join(f"\x1b[{_SGR[style]}m{part}\x1b[0m" for part in text.split("\n"))


View = Callable[[dict[str, Any], Paint], list[str]]
VIEWS: dict[str, View] = {}


view = tf.view_registrar(VIEWS)


def render(item: dict[str, Any], color: bool = True) -> list[str]:
    """The lines that show one result item (none for protocol bookkeeping)."""
    func = VIEWS.get(str(item.get("type")), generic)
    lines: list[str] = []
    for line in func(item, Paint(color)):
        lines.extend(line.split("\n"))
    return lines


# -- generic shapes --------------------------------------------------------------------------


def fields(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in HIDDEN_KEYS}


def table(rows: Iterable[Iterable[str]], header: list[str] | None, paint: Paint) -> list[str]:
    """Columns padded to their widest cell, two spaces apart; a cell may span several lines."""
    grid = [[str(cell).split("\n") for cell in row] for row in rows]
    if header:
        grid.insert(0, [[paint("bold", h)] for h in header])
    if not grid:
        return []
    count = max(len(row) for row in grid)
    widths = [0] * count
    for row in grid:
        for i, cell in enumerate(row):
            widths[i] = max([widths[i], *(visible_width(part) for part in cell)])
    lines = []
    for row in grid:
        for k in range(max(len(cell) for cell in row)):
            parts = []
            for i, cell in enumerate(row):
                part = cell[k] if k < len(cell) else ""
                parts.append(part + " " * (widths[i] - visible_width(part)))
            lines.append("  ".join(parts).rstrip())
    return lines


def columns(words: list[str], width: int) -> list[str]:
    """Words in as many columns as fit ``width``, down then across, like a shell lists them."""
    cell = max(visible_width(w) for w in words) + 2
    per_row = max(1, width // cell)
    rows = -(-len(words) // per_row)
    return ["".join(w.ljust(cell) for w in words[r::rows]).rstrip() for r in range(rows)]


def kv_table(data: dict[str, Any], paint: Paint) -> list[str]:
    return table(([paint("cyan", str(k)), tf.fmt(v)] for k, v in data.items()), None, paint)


def rows_table(
    rows: list[dict[str, Any]], paint: Paint, columns: list[str] | None = None
) -> list[str]:
    """A table of dicts; columns are the union of keys in first-seen order unless given."""
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
    body = ([tf.fmt(row.get(c, "")) for c in columns] for row in rows)
    return table(body, [c.upper() for c in columns], paint)


def sections(data: dict[str, Any], paint: Paint, depth: int = 0) -> list[str]:
    """Scalars first as one key/value table, then a titled section per nested value."""
    scalars: dict[str, Any] = {}
    parts: list[str] = []
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            parts += [paint("bold", key), *rows_table(value, paint)]
        elif isinstance(value, dict) and value and depth < MAX_DEPTH:
            parts += [paint("bold", key), *sections(value, paint, depth + 1)]
        else:
            scalars[key] = value
    return kv_table(scalars, paint) + parts


def generic(item: dict[str, Any], paint: Paint) -> list[str]:
    return sections(fields(item), paint)


def single_field(name: str) -> View:
    return lambda item, paint: [tf.fmt(item.get(name, ""))]


def dict_field(name: str) -> View:
    return lambda item, paint: kv_table(item.get(name) or {}, paint)


for _type, _field in {
    "version": "version",
    "pwd": "workingDir",
    "echo": "content",
    "base64": "content",
    "cat": "content",
    "ognl": "value",
    "vmtool": "value",
}.items():
    VIEWS[_type] = single_field(_field)
VIEWS["sysprop"] = dict_field("props")
VIEWS["sysenv"] = dict_field("env")
VIEWS["session"] = generic


# -- views of their own ----------------------------------------------------------------------


@view("input_status", "command")
def hidden(item: dict[str, Any], paint: Paint) -> list[str]:
    """Protocol bookkeeping: the terminal acts on these, it does not print them."""
    return []


@view("status")
def status(item: dict[str, Any], paint: Paint) -> list[str]:
    code, message = item.get("statusCode", 0), item.get("message")
    if code == 0:
        return [message] if message else []
    return [paint("red", message or f"command failed with status {code}")]


@view("message")
def message(item: dict[str, Any], paint: Paint) -> list[str]:
    return [str(item.get("message", ""))]


@view("shutdown")
def shutdown(item: dict[str, Any], paint: Paint) -> list[str]:
    return [paint("yellow", item["message"])] if item.get("message") else []


@view("welcome")
def welcome(item: dict[str, Any], paint: Paint) -> list[str]:
    if paint.color:
        logo = "".join(
            f"\x1b[1;{LOGO_COLOURS[i % len(LOGO_COLOURS)]}m{ch}" for i, ch in enumerate("livescope")
        )
        logo += "\x1b[0m"
    else:
        logo = "livescope"
    names = {"mainClass": "main_class"}
    keys = ("wiki", "tutorials", "version", "mainClass", "pid", "time")
    rows = {names.get(k, k): item[k] for k in keys if k in item}
    return [logo, *kv_table(rows, paint), ""]


@view("enhancer")
def enhancer(item: dict[str, Any], paint: Paint) -> list[str]:
    if not item.get("success"):
        return []  # the job's status repeats the message, in red
    effect = item.get("effect") or {}
    lines = ["Press Q or Ctrl+C to abort.", tf.affect_text(effect)]
    if effect.get("overLimitMsg"):
        lines.append(paint("yellow", effect["overLimitMsg"]))
    return lines


@view("row_affect")
def row_affect(item: dict[str, Any], paint: Paint) -> list[str]:
    return [tf.row_affect_text(item)]


@view("reset")
def reset(item: dict[str, Any], paint: Paint) -> list[str]:
    return [tf.affect_text(item.get("affect") or {}, listener=False)]


@view("watch")
def watch(item: dict[str, Any], paint: Paint) -> list[str]:
    return [paint("cyan", tf.watch_head(item)), tf.fmt(item.get("value"))]


@view("line")
def line(item: dict[str, Any], paint: Paint) -> list[str]:
    return [paint("cyan", tf.line_head(item)), tf.fmt(item.get("value"))]


def trace_node(node: dict[str, Any], paint: Paint) -> str:
    kind = node.get("type")
    if kind == "thread":
        return tf.thread_head(node)
    if kind == "throw":
        return paint("red", tf.throw_label(node))
    text = paint("yellow", tf.method_cost(node)) + " " + tf.method_label(node)
    return text + paint("red", tf.method_throws(node))


def trace_lines(node: dict[str, Any], paint: Paint, indent: str, last: bool) -> list[str]:
    lines = [indent + ("`---" if last else "+---") + trace_node(node, paint)]
    children = node.get("children") or []
    inner = indent + ("    " if last else "|   ")
    for i, child in enumerate(children):
        lines += trace_lines(child, paint, inner, i == len(children) - 1)
    return lines


@view("trace")
def trace(item: dict[str, Any], paint: Paint) -> list[str]:
    return trace_lines(item.get("root") or {}, paint, "", True)


@view("stack")
def stack(item: dict[str, Any], paint: Paint) -> list[str]:
    frames = [tf.frame_text(f) for f in item.get("stackTrace") or []]
    return [paint("cyan", tf.thread_head(item, "ts")), *frames]


STATE_STYLES = {"RUNNABLE": "green", "BLOCKED": "red", "WAITING": "yellow"}
STATE_STYLES["TIMED_WAITING"] = "yellow"
THREAD_KEYS = {"threadStateCount", "threadStats", "threadInfo", "busyThreads"}
THREAD_KEYS |= {"blockingLockInfo", "all"}


def thread_info(info: dict[str, Any], paint: Paint) -> list[str]:
    return [paint("bold", tf.thread_info_head(info)), *tf.thread_info_frames(info)]


@view("thread")
def thread(item: dict[str, Any], paint: Paint) -> list[str]:
    lines: list[str] = []
    if item.get("threadStateCount"):
        lines.append(paint("bold", tf.thread_summary(item["threadStateCount"])))
    if item.get("threadStats"):
        rows = []
        for stats in item["threadStats"]:
            state = str(stats.get("state", ""))
            style = STATE_STYLES.get(state)
            rows.append({**stats, "state": paint(style, state) if style else state})
        lines += rows_table(rows, paint, tf.THREAD_COLUMNS)
    if item.get("threadInfo"):
        lines += thread_info(item["threadInfo"], paint)
    for busy in item.get("busyThreads") or []:
        head = f"cpuUsage={busy.get('cpu', '')}% deltaTime={busy.get('deltaTime', '')}ms "
        lines += [head + paint("bold", tf.thread_info_head(busy)), *tf.thread_info_frames(busy)]
    blocking = item.get("blockingLockInfo")
    if blocking:
        lines += thread_info(blocking.get("threadInfo") or {}, paint)
        lines.append(f"    but blocks {blocking.get('blockingThreadCount', 0)} other threads!")
    rest = {k: v for k, v in fields(item).items() if k not in THREAD_KEYS}
    return lines + (sections(rest, paint) if rest else [])


@view("monitor")
def monitor(item: dict[str, Any], paint: Paint) -> list[str]:
    return rows_table(tf.monitor_rows(item), paint, tf.MONITOR_COLUMNS)


@view("tt")
def tt(item: dict[str, Any], paint: Paint) -> list[str]:
    fragments = item.get("timeFragmentList")
    if fragments is not None:
        lines = rows_table(tf.tt_rows(fragments), paint, tf.TT_COLUMNS)
        return lines if item.get("first", True) else lines[1:]
    if item.get("timeFragment"):
        return kv_table(item["timeFragment"], paint)
    return generic(item, paint)


@view("sc")
def sc(item: dict[str, Any], paint: Paint) -> list[str]:
    if item.get("classNames") is not None:
        return [str(name) for name in item["classNames"]]
    if item.get("classInfo"):
        info = dict(item["classInfo"])
        field_list = info.pop("fields", None) or []
        columns = ["name", "type", "modifier", "value"]
        return kv_table(info, paint) + (
            rows_table(field_list, paint, columns) if field_list else []
        )
    return generic(item, paint)


@view("sm")
def sm(item: dict[str, Any], paint: Paint) -> list[str]:
    method = item.get("methodInfo") or {}
    if item.get("detail"):
        return kv_table(method, paint)
    params = ", ".join(method.get("parameters") or [])
    return [f"{method.get('declaringClass', '')} {method.get('methodName', '')}({params})"]


@view("jad")
def jad(item: dict[str, Any], paint: Paint) -> list[str]:
    if item.get("source") is None:
        return generic(item, paint)
    lines = []
    if item.get("classInfo"):
        loader = tf.fmt(item["classInfo"].get("classloader", ""))
        lines.append(paint("cyan", f"ClassLoader: {loader}"))
    if item.get("location"):
        lines.append(paint("cyan", f"Location: {item['location']}"))
    return [*lines, "", str(item["source"]).rstrip("\n")]


@view("getstatic")
def getstatic(item: dict[str, Any], paint: Paint) -> list[str]:
    if "field" in item:
        return [f"field: {item.get('fieldName', '')}", tf.fmt(item["field"])]
    return generic(item, paint)


@view("help")
def help_view(item: dict[str, Any], paint: Paint) -> list[str]:
    detail = item.get("detailCommand")
    if not detail:
        commands = item.get("commands") or []
        rows = ([paint("cyan", c.get("name", "")), c.get("summary", "")] for c in commands)
        return table(rows, ["NAME", "DESCRIPTION"], paint)
    lines = [paint("bold", "USAGE:"), "  " + str(detail.get("usage") or detail.get("name", ""))]
    lines += [paint("bold", "SUMMARY:"), "  " + str(detail.get("summary", ""))]
    if detail.get("description"):
        lines += [paint("bold", "DESCRIPTION:"), str(detail["description"])]
    options = detail.get("options") or []
    if options:
        rows = ([paint("cyan", tf.option_names(o)), str(o.get("description", ""))] for o in options)
        lines += [paint("bold", "OPTIONS:"), *table(rows, None, paint)]
    return lines


@view("history")
def history(item: dict[str, Any], paint: Paint) -> list[str]:
    return tf.history_lines(item.get("history") or [])


@view("options")
def options(item: dict[str, Any], paint: Paint) -> list[str]:
    if item.get("options") is not None:
        columns = ["level", "type", "name", "value", "summary"]
        return rows_table(item["options"], paint, columns)
    return generic(item, paint)


__all__ = ["VIEWS", "Paint", "columns", "render", "table"]
