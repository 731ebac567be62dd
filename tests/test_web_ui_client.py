"""What Arthas's own browser UI (web-ui/arthasWebConsole) sends, and what it reads back.

The UI is a compiled Vue app that cannot be fetched here, so these tests replay its requests as
it builds them: every body carries ``sessionId``, ``consumerId`` and ``requestId``, blank when
they do not apply; synchronous views run a one-shot ``exec`` with a blank session; the
asynchronous ones ``async_exec`` in a session with a blank consumer and poll ``pull_results``.
Each reply must pass the UI's own success test (``ui_accepts``), and the fields each view reads
must be there in the form its code uses them: an array where it calls ``forEach``, a value that
is not null where it calls ``toString``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from support.targets import Target

DEMO = """
import os, sys, livescope.demo
sys.path.insert(0, os.path.dirname(livescope.demo.__file__))
import demo
demo.main(0.02)
"""
UNHEALTHY = "all consumers are unhealthy, current job was interrupted."


@pytest.fixture(scope="module")
def demo() -> Iterator[Target]:
    with Target(DEMO) as target:
        yield target


def ui_post(target: Target, **fields: Any) -> dict[str, Any]:
    """A POST /api as the UI sends it: the three id fields always present, "" when unused."""
    body = {"sessionId": "", "consumerId": "", "requestId": "", **fields}
    return target.api(body)


def ui_accepts(reply: dict[str, Any], command: str = "") -> bool:
    """The UI's test of a reply (stores/fetch.ts): anything else pops its error dialog."""
    if reply.get("state") not in ("SCHEDULED", "SUCCEEDED"):
        return False
    body = reply.get("body")
    if body is None:  # session actions
        return True
    if "results" not in body:
        return body.get("jobStatus") in ("READY", "TERMINATED")
    for result in body["results"]:
        if result["type"] == "status" and result["statusCode"] != 0:
            return False
        if result.get("message") == UNHEALTHY:
            return False
        change = result.get("changeResult") if result["type"] == "options" else None
        if change is not None and ui_string(change["afterValue"]) != command.split()[2]:
            return False
    return True


def ui_string(value: Any) -> str:
    """JavaScript's ``value.toString()`` for JSON values; null and undefined throw there."""
    assert value is not None, "the UI calls toString() on this value"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def one_shot(target: Target, command: str) -> list[dict[str, Any]]:
    reply = ui_post(target, action="exec", command=command)
    assert ui_accepts(reply, command), reply
    results = reply["body"]["results"]
    assert results and results[0]["type"] != "status", results  # views read results[0]
    return results


def no_nulls(row: dict[str, Any], *, except_keys: tuple[str, ...] = ()) -> None:
    for key, value in row.items():
        if key not in except_keys:
            ui_string(value)


# --- synchronous views (one-shot exec, blank session) -------------------------------------------


def test_thread_view(demo: Target) -> None:
    listing = one_shot(demo, "thread --all  -i 200  ")[0]
    assert listing["type"] == "thread"
    for row in listing["threadStats"]:
        no_nulls(row)
        float(row["cpu"])  # rows are sorted by parseFloat(cpu)
    assert set(listing["threadStateCount"]) >= {"RUNNABLE", "WAITING", "TIMED_WAITING"}
    main = next(r for r in listing["threadStats"] if r["name"] == "MainThread")
    detail = one_shot(demo, f"thread {main['id']} ")[0]["threadInfo"]
    assert detail["stackTrace"], detail
    for frame in detail["stackTrace"]:
        assert {"className", "methodName", "fileName", "lineNumber"} <= set(frame)
    waiting = one_shot(demo, "thread --all  -i 200   --state TIMED_WAITING")[0]
    assert [r["state"] for r in waiting["threadStats"]] == ["TIMED_WAITING"]


def test_thread_view_blocking_toggle_options_are_understood(demo: Target) -> None:
    """With its blocking toggle on, the UI adds two lock options to ``thread -b``."""
    reply = ui_post(
        demo,
        action="exec",
        command="thread --all -b --lockedMonitors  --lockedSynchronizers -i 200",
    )
    status = reply["body"]["results"][-1]
    # nothing is blocked in the demo, so this is Arthas's own answer, not an option error
    assert status == {
        "type": "status",
        "jobId": status["jobId"],
        "statusCode": 1,
        "message": "No most blocking thread found!",
    }


def test_memory_view(demo: Target) -> None:
    memory = one_shot(demo, "memory")[0]
    for group, entries in memory["memoryInfo"].items():
        assert isinstance(entries, list) and entries, group
        for entry in entries:
            assert isinstance(entry["name"], str)
            for key in ("used", "total", "max"):
                assert isinstance(entry[key], int), (group, entry)


def test_jad_view(demo: Target) -> None:
    jad = one_shot(demo, "jad demo.MathGame")[0]
    assert "def primeFactors" in jad["source"] and jad["location"].endswith("demo.py")
    assert isinstance(jad["classInfo"]["classloader"], list)
    no_nulls(jad["classInfo"], except_keys=("classloader",))


def test_class_input_then_class_info_view(demo: Target) -> None:
    """Typing a class name, leaving the field, then the class page's three requests, each
    restricted with ``-c`` to the hash after the ``@`` of the class's loader."""
    names = one_shot(demo, "sc *MathGame*")[0]
    assert names["detailed"] is False and names["withField"] is False
    assert names["classNames"] == ["demo.MathGame"]
    brief = one_shot(demo, "sc -d *MathGame*")[0]["classInfo"]
    hashes = [label.split("@")[1] for label in brief["classloader"]]
    assert hashes == [brief["classLoaderHash"]]

    sc = one_shot(demo, f"sc -d -f demo.MathGame -c {hashes[0]}")[0]
    assert sc["detailed"] is True and sc["withField"] is True
    info = sc["classInfo"]
    for key in ("interfaces", "annotations", "classloader", "superClass", "fields"):
        assert isinstance(info[key], list), key
    no_nulls(info, except_keys=("interfaces", "annotations", "classloader", "superClass", "fields"))
    for field in info["fields"]:
        assert isinstance(field["name"], str)

    methods = one_shot(demo, f"sm -d demo.MathGame -c {hashes[0]}")
    first = methods[0]
    assert first["type"] == "sm" and first["detail"] is True
    assert "primeFactors" in [m["methodInfo"]["methodName"] for m in methods if m["type"] == "sm"]
    no_nulls(first["methodInfo"], except_keys=("exceptions", "parameters", "annotations"))

    dumped = one_shot(demo, f"dump demo.MathGame -c {hashes[0]}")[0]["dumpedClasses"]
    assert [d["name"] for d in dumped] == ["demo.MathGame"]
    with open(dumped[0]["location"], encoding="utf-8") as f:
        assert "def primeFactors" in f.read()


def test_class_loader_hash_that_matches_nothing_is_an_error(demo: Target) -> None:
    reply = ui_post(demo, action="exec", command="sc -d demo.MathGame -c 00000000")
    assert not ui_accepts(reply)
    assert reply["body"]["results"][-1]["message"] == (
        "Can not find classloader with hashcode: 00000000."
    )


def test_method_input(demo: Target) -> None:
    methods = one_shot(demo, "sm demo.MathGame *prime*")
    found = [m["methodInfo"]["methodName"] for m in methods if m["type"] == "sm"]
    assert found == ["primeFactors"]


def test_ognl_and_vmtool_views(demo: Target) -> None:
    hash_ = one_shot(demo, "sc -d demo.MathGame")[0]["classInfo"]["classLoaderHash"]
    ognl = one_shot(demo, f"ognl MathGame.__name__ -c {hash_} -x 1")[0]
    assert ognl["value"] == "MathGame"  # evaluated in the module demo's namespace
    instances = one_shot(demo, "vmtool --action getInstances --className demo.MathGame -x 1")[0]
    assert instances["value"][0]["@type"] == "demo.MathGame"


def test_reset_view(demo: Target) -> None:
    affect = one_shot(demo, "reset demo.MathGame")[0]["affect"]
    assert {"classCount", "methodCount", "cost", "listenerId"} <= set(affect)


def test_config_views(demo: Target) -> None:
    jvm = one_shot(demo, "jvm")[0]["jvmInfo"]
    assert all(isinstance(entries, list) for entries in jvm.values())
    assert one_shot(demo, "sysenv")[0]["env"]["PATH"]
    assert "java.class.path" in one_shot(demo, "sysprop")[0]["props"]
    one_shot(demo, "sysprop livescope.ui.check yes")
    assert one_shot(demo, "sysprop livescope.ui.check")[0]["props"] == {"livescope.ui.check": "yes"}

    options = one_shot(demo, "options")[0]["options"]
    for option in options:
        int(option["level"])
        for key in ("name", "type", "value", "summary", "description"):
            assert isinstance(option[key], str), (key, option)
    one_shot(demo, "options json-format true")  # ui_accepts compares afterValue with "true"
    one_shot(demo, "options json-format false")

    vm_options = one_shot(demo, "vmoption")[0]["vmOptions"]
    for option in vm_options:
        no_nulls(option)
    writable = next(o for o in vm_options if o["name"] == "sys.switchinterval")
    assert writable["writeable"] is True
    one_shot(demo, f"vmoption sys.switchinterval {writable['value']}")

    counters = one_shot(demo, "perfcounter -d")[0]["perfCounters"]
    for counter in counters:
        no_nulls(counter)
    names = {c["name"] for c in counters}
    assert {"process.cpu.user", "process.rss", "python.threads.live"} <= names


def test_profiler_view_polling(demo: Target) -> None:
    """The profiler page asks status and the sample count every 2 s and lists the events
    once; a failed status makes it say the profiler is not supported."""
    status = one_shot(demo, "profiler status")[0]
    assert status["type"] == "profiler" and "not" in status["executeResult"]
    assert int(one_shot(demo, "profiler getSamples")[0]["executeResult"]) >= 0
    listing = one_shot(demo, "profiler list")[0]["executeResult"].split("\n")
    assert "Basic events:" in listing and "  cpu" in listing


# --- asynchronous views (a session, async_exec, pull_results) ------------------------------------


class UiSession:
    """The UI's session: init, a keep-alive pull, async_exec with a blank consumer, polling."""

    def __init__(self, target: Target) -> None:
        self.target = target
        reply = ui_post(target, action="init_session")
        assert ui_accepts(reply) and reply["sessionId"] and reply["consumerId"], reply
        self.session_id, self.consumer_id = reply["sessionId"], reply["consumerId"]
        self.pulled: list[dict[str, Any]] = []  # results pulled and not yet looked at

    def pull(self) -> list[dict[str, Any]]:
        reply = ui_post(
            self.target,
            action="pull_results",
            sessionId=self.session_id,
            consumerId=self.consumer_id,
        )
        assert ui_accepts(reply), reply
        return reply["body"]["results"]

    def start(self, command: str) -> int:
        reply = ui_post(
            self.target, action="async_exec", command=command, sessionId=self.session_id
        )
        assert ui_accepts(reply, command), reply
        assert reply["body"]["jobStatus"] == "READY"
        return reply["body"]["jobId"]

    def results_of(self, job_id: int, kind: str, count: int, timeout: float = 20) -> list[dict]:
        """Poll until ``count`` results of type ``kind`` from job ``job_id`` came."""
        deadline = time.monotonic() + timeout
        while True:
            got = [r for r in self.pulled if r["jobId"] == job_id and r["type"] == kind]
            if len(got) >= count:
                got = got[:count]
                self.pulled = [r for r in self.pulled if not any(r is g for g in got)]
                return got
            assert time.monotonic() < deadline, f"{kind}: {self.pulled}"
            self.pulled += self.pull()

    def interrupt(self) -> None:
        ui_post(self.target, action="interrupt_job", sessionId=self.session_id)

    def close(self) -> None:
        reply = ui_post(self.target, action="close_session", sessionId=self.session_id)
        assert reply["state"] == "SUCCEEDED", reply


@pytest.fixture
def session(demo: Target) -> Iterator[UiSession]:
    ui = UiSession(demo)
    ui.pull()  # the welcome items; the UI's 60 s keep-alive is the same request
    yield ui
    ui.interrupt()
    ui.close()


def enhancer_of(session: UiSession, job_id: int) -> None:
    enhancer = session.results_of(job_id, "enhancer", 1)[0]
    assert enhancer["success"] is True
    for value in enhancer["effect"].values():
        ui_string(value)


def test_dashboard_view(session: UiSession) -> None:
    job = session.start("dashboard")
    dashboard = session.results_of(job, "dashboard", 1)[0]
    memory = dashboard["memoryInfo"]
    heap = memory["heap"][0]
    assert heap["name"] == "heap" and heap["total"] >= heap["used"] > 0
    for group in ("heap", "nonheap", "buffer_pool"):
        for entry in memory[group]:
            assert {"name", "used", "total", "max"} <= set(entry)
    columns = (
        "id",
        "name",
        "cpu",
        "daemon",
        "deltaTime",
        "group",
        "interrupted",
        "priority",
        "state",
        "time",
    )
    for thread in dashboard["threads"]:
        for column in columns:
            ui_string(thread[column])
    for gc in dashboard["gcInfos"]:
        assert isinstance(gc["name"], str)
        assert isinstance(gc["collectionCount"], int) and isinstance(gc["collectionTime"], int)
    no_nulls(dashboard["runtimeInfo"])


def test_watch_view(session: UiSession) -> None:
    job = session.start("watch  -f demo.MathGame primeFactors -x 1 '' ''")
    enhancer_of(session, job)
    watch = session.results_of(job, "watch", 2)
    for result in watch:
        assert result["accessPoint"] in ("AtExit", "AtExceptionExit")
        assert result["className"] == "demo.MathGame" and result["methodName"] == "primeFactors"
        assert isinstance(result["cost"], float) and " " in result["ts"]
        assert "value" in result


def test_trace_view(session: UiSession) -> None:
    job = session.start("trace demo.MathGame run --skipJDKMethod false '' -n 1")
    enhancer_of(session, job)
    root = session.results_of(job, "trace", 1)[0]["root"]
    assert root["type"] == "thread"
    for key in ("timestamp", "threadName", "daemon", "priority", "threadId"):
        ui_string(root[key])
    (method,) = root["children"]
    assert method["className"] == "demo.MathGame" and method["methodName"] == "run"
    for key in ("cost", "totalCost", "minCost", "maxCost", "times"):
        assert isinstance(method[key], int), key
    calls = [c["methodName"] for c in method["children"]]
    assert "primeFactors" in calls
    assert any(c["methodName"] == "randint" for c in method["children"])  # builtins kept


def test_stack_view(session: UiSession) -> None:
    job = session.start("stack demo.MathGame primeFactors '' -n 1")
    enhancer_of(session, job)
    stack = session.results_of(job, "stack", 1)[0]
    assert [f["methodName"] for f in stack["stackTrace"]][:2] == ["primeFactors", "run"]
    no_nulls(stack, except_keys=("stackTrace",))
    assert len(stack["ts"].split(" ")) == 2


def test_tt_view(session: UiSession, demo: Target) -> None:
    job = session.start("tt -t demo.MathGame primeFactors -n 2")
    enhancer_of(session, job)
    recorded = session.results_of(job, "tt", 2)
    for result in recorded:
        for fragment in result["timeFragmentList"]:
            for param in fragment["params"]:
                no_nulls(param)
            assert isinstance(fragment["index"], int) and isinstance(fragment["cost"], float)
    index = recorded[0]["timeFragmentList"][0]["index"]
    listed = one_shot(demo, "tt -l")[0]["timeFragmentList"]
    assert index in [f["index"] for f in listed]
    replay = one_shot(demo, f"tt -i {index} -p")[0]
    assert replay["replayResult"]["index"] == index
    ui_string(replay["sizeLimit"])
    ui_string(replay["replayNo"])


def test_monitor_view(session: UiSession) -> None:
    job = session.start("monitor -c 1 demo.MathGame primeFactors ''")
    enhancer_of(session, job)
    cycle = session.results_of(job, "monitor", 1)[0]
    (data,) = cycle["monitorDataList"]
    assert data["total"] == data["success"] + data["failed"] > 0
    assert isinstance(data["cost"], float)
    assert data["timestamp"].split(" ")[1]  # the chart's label is the time part


def test_profiler_view_start_and_stop(session: UiSession, demo: Target) -> None:
    job = session.start("profiler start --event cpu ")
    started = session.results_of(job, "profiler", 1)[0]
    assert started["action"] == "start" and started["executeResult"]
    time.sleep(0.5)
    assert int(one_shot(demo, "profiler getSamples")[0]["executeResult"]) > 0
    reply = ui_post(demo, action="exec", command="profiler stop", sessionId=session.session_id)
    assert ui_accepts(reply), reply
    stopped = reply["body"]["results"][0]
    assert stopped["action"] == "stop" and stopped["executeResult"].startswith("OK")
    assert stopped["outputFile"].endswith(".html")


def test_unknown_event_is_refused(demo: Target) -> None:
    reply = ui_post(demo, action="exec", command="profiler start --event alloc")
    assert reply["body"]["results"][-1]["message"] == "AsyncProfiler error: unknown event alloc"
