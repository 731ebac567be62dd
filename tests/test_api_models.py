"""Reference §8 items 57–64 ("Models / encoding"): the shapes of result models on the wire.

Each item runs against one real workbench target per CPython the machine has, over real HTTP.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from support.api_target import ApiSession
from support.pythons import available_pythons
from support.targets import Target
from support.workbench import BULK_CLASSES, start_workbench

pytestmark = pytest.mark.timeout(120)

PYTHONS = available_pythons()
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6}|\.\d{9})?$")
THREAD_STATES = {"NEW", "RUNNABLE", "BLOCKED", "WAITING", "TIMED_WAITING", "TERMINATED"}
THREAD_VO_KEYS = {
    "id",
    "name",
    "group",
    "priority",
    "state",
    "cpu",
    "deltaTime",
    "time",
    "interrupted",
    "daemon",
}
MEMORY_ENTRY_KEYS = {"type", "name", "used", "total", "max"}
ENHANCING = {
    "watch": "watch workbench.Pricer price -n 1",
    "trace": "trace workbench checkout -n 1",
    "stack": "stack workbench.Pricer price -n 1",
    "tt": "tt -t workbench.Pricer price -n 1",
    "monitor": "monitor -c 0.3 -n 1 workbench.Pricer price",
}


@pytest.fixture(scope="module", params=list(PYTHONS), ids=[f"py{v}" for v in PYTHONS])
def bench(request: pytest.FixtureRequest) -> Iterator[Target]:
    """One workbench target per interpreter, shared by the items (closed by pid at the end)."""
    target = start_workbench(PYTHONS[request.param])
    yield target
    target.close()


def first(results: list[dict], kind: str) -> dict:
    return next(r for r in results if r["type"] == kind)


def ok(results: list[dict]) -> list[dict]:
    assert results[-1]["type"] == "status" and results[-1]["statusCode"] == 0, results[-1]
    return results


def assert_date_time(text: object) -> None:
    """A local ``yyyy-MM-dd HH:mm:ss[.fff]`` string of about now (the target runs here)."""
    assert isinstance(text, str) and DATE_TIME.match(text), text
    stamp = datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S")
    assert abs(datetime.now() - stamp) < timedelta(minutes=10), text


def test_item_57_date_times_are_formatted_strings(bench: Target) -> None:
    """welcome ``time``, watch/stack ``ts``, monitor/trace/tt ``timestamp``.

    spec/002's 3.3.7 sample shows watch ``ts`` as epoch milliseconds; the reference's string
    form is what Arthas 4 clients (and this project) read, and what the checklist asks for.
    """
    session = ApiSession(bench)
    assert_date_time(first(session.welcome(), "welcome")["time"])
    session.call("close_session")
    assert_date_time(first(ok(bench.results(ENHANCING["watch"])), "watch")["ts"])
    assert_date_time(first(ok(bench.results(ENHANCING["stack"])), "stack")["ts"])
    cycle = first(ok(bench.results(ENHANCING["monitor"])), "monitor")
    for data in cycle["monitorDataList"]:
        assert_date_time(data["timestamp"])
    assert_date_time(first(ok(bench.results(ENHANCING["trace"])), "trace")["root"]["timestamp"])
    record = first(ok(bench.results(ENHANCING["tt"])), "tt")["timeFragmentList"][0]
    assert_date_time(record["timestamp"])
    shown = first(ok(bench.results(f"tt -i {record['index']}")), "tt")["timeFragment"]
    assert shown["timestamp"] == record["timestamp"]


def test_item_58_values_are_structured_json_and_tt_params_wrap_each_object(bench: Target) -> None:
    """Where the reference says watch/ognl/getstatic/vmtool values are rendered *strings*, the
    seed documents (spec/000–003, which win) show them as structured JSON — lists, maps, numbers,
    exceptions as ``{"@type", "message", "stackTrace"}`` — and so does livescope. What this item
    asserts is that structure, plus the part both agree on: tt ``params`` are
    ``[{"expand": n, "object": value}]``.
    """
    watch = first(
        ok(bench.results('watch workbench.Pricer price "{params, returnObj}" -n 1')), "watch"
    )
    (amount, tag), result = watch["value"]
    assert tag == "net" and result == round(amount * 1.5, 2)
    mapped = first(
        ok(
            bench.results(
                'watch workbench.Pricer price \'#{"amount": params[0], "result": returnObj}\' -n 1'
            )
        ),
        "watch",
    )["value"]
    assert set(mapped) == {"amount", "result"} and mapped["result"] == round(
        mapped["amount"] * 1.5, 2
    )
    error = first(ok(bench.results("watch workbench.Pricer fail throwExp -e -n 1")), "watch")[
        "value"
    ]
    assert error["@type"] == "ValueError" and error["message"].startswith("bad amount: ")
    assert error["stackTrace"][0]["methodName"] == "fail"

    ognl = first(
        ok(bench.results('ognl \'#{"limit": workbench.LIMIT, "rates": workbench.RATES}\'')), "ognl"
    )
    assert ognl["value"] == {"limit": 3, "rates": {"eur": 1.0, "usd": 1.5}}
    field = first(ok(bench.results("getstatic workbench RATES")), "getstatic")
    assert field["fieldName"] == "RATES" and field["field"] == {"eur": 1.0, "usd": 1.5}
    instances = first(
        ok(bench.results("vmtool --action getInstances --className workbench.Pricer")), "vmtool"
    )
    assert {"@type": "workbench.Pricer", "rate": 1.5} in instances["value"]

    record = first(ok(bench.results("tt -t workbench.Pricer price -n 1 -x 2")), "tt")
    fragment = record["timeFragmentList"][0]
    assert [p["expand"] for p in fragment["params"]] == [2, 2]
    amount, tag = (p["object"] for p in fragment["params"])
    assert isinstance(amount, int) and tag == "net"
    assert fragment["returnObj"] == round(amount * 1.5, 2)
    assert fragment["object"] == {"@type": "workbench.Pricer", "rate": 1.5}


def test_item_59_integer_map_keys_are_json_strings(bench: Target) -> None:
    """jad ``mappings`` {line in the shown source: line in the file}, read from the raw body."""
    response = httpx.post(
        bench.url + "/api",
        content=json.dumps({"action": "exec", "command": "jad workbench.checkout"}),
        timeout=60,
    )
    raw = response.text
    assert re.search(r'"mappings":\s*\{\s*"1"\s*:\s*\d+', raw), raw
    jad = first(ok(response.json()["body"]["results"]), "jad")
    keys = list(jad["mappings"])
    assert all(isinstance(k, str) for k in keys) and keys == ["1", "2"]
    first_line = jad["mappings"]["1"]
    assert jad["mappings"] == {"1": first_line, "2": first_line + 1}
    assert jad["source"].startswith(f"/*{first_line:>4}*/ def checkout(")


def test_item_60_thread_list_has_stats_state_counts_and_all(bench: Target) -> None:
    body = ok(bench.results("thread"))[0]
    assert body["type"] == "thread"
    assert {"threadStats", "threadStateCount", "all"} <= set(body) and body["all"] is False
    assert set(body["threadStateCount"]) == THREAD_STATES
    assert all(isinstance(n, int) for n in body["threadStateCount"].values())
    assert sum(body["threadStateCount"].values()) == len(body["threadStats"])
    assert body["threadStateCount"]["BLOCKED"] == 3  # the workbench's three lock waiters
    for vo in body["threadStats"]:
        assert set(vo) == THREAD_VO_KEYS and vo["state"] in THREAD_STATES
    names = {vo["name"] for vo in body["threadStats"]}
    assert {"MainThread", "caller", "lock-holder", "waiter-0", "event-loop"} <= names
    assert ok(bench.results("thread --all"))[0]["all"] is True


def test_item_61_memory_groups_and_entries(bench: Target) -> None:
    body = ok(bench.results("memory"))[0]
    assert body["type"] == "memory"
    info = body["memoryInfo"]
    assert set(info) == {"heap", "nonheap", "buffer_pool"}
    assert info["heap"][0]["name"] == "heap" and info["nonheap"][0]["name"] == "nonheap"
    for group, entries in info.items():
        assert entries
        for entry in entries:
            assert set(entry) == MEMORY_ENTRY_KEYS and entry["type"] == group
            assert all(isinstance(entry[k], int) for k in ("used", "total", "max"))


def test_item_62_dashboard_has_threads_memory_gc_and_runtime(bench: Target) -> None:
    results = ok(bench.results("dashboard -i 100 -n 1"))
    board = results[0]
    assert board["type"] == "dashboard"
    assert {"threads", "memoryInfo", "gcInfos", "runtimeInfo"} <= set(board)
    assert all(set(vo) == THREAD_VO_KEYS for vo in board["threads"])
    assert "caller" in {vo["name"] for vo in board["threads"]}
    assert set(board["memoryInfo"]) == {"heap", "nonheap", "buffer_pool"}
    for gc_info in board["gcInfos"]:
        assert {"name", "collectionCount", "collectionTime"} <= set(gc_info)
    assert {
        "osName",
        "osVersion",
        "javaVersion",
        "javaHome",
        "systemLoadAverage",
        "processors",
        "uptime",
        "timestamp",
    } <= set(board["runtimeInfo"])


def test_item_63_sc_names_come_in_segments_of_at_most_256(bench: Target) -> None:
    results = ok(bench.results("sc bulk.*"))
    items = [r for r in results if r["type"] == "sc"]
    assert len(items) == -(-BULK_CLASSES // 256) > 1
    assert [len(i["classNames"]) for i in items] == [256, 256, BULK_CLASSES - 512]
    assert [i["segment"] for i in items] == list(range(len(items)))
    assert all(i["detailed"] is False and i["withField"] is False for i in items)
    names = [n for i in items for n in i["classNames"]]
    assert names == [f"bulk.C{i:03d}" for i in range(BULK_CLASSES)]
    assert [r["type"] for r in results[len(items) :]] == ["row_affect", "status"]
    assert results[len(items)]["rowCount"] == BULK_CLASSES


@pytest.mark.parametrize("command", list(ENHANCING))
def test_item_64_enhancer_comes_first_with_its_effect(bench: Target, command: str) -> None:
    results = ok(bench.results(ENHANCING[command]))
    enhancer = results[0]
    assert enhancer["type"] == "enhancer" and enhancer["success"] is True
    assert enhancer["jobId"] == results[-1]["jobId"]
    effect = enhancer["effect"]
    assert {"listenerId", "classCount", "methodCount", "cost"} <= set(effect)
    assert isinstance(effect["listenerId"], int) and effect["listenerId"] > 0
    assert (effect["classCount"], effect["methodCount"]) == (1, 1)
    assert isinstance(effect["cost"], int) and effect["cost"] >= 0
    assert command in {r["type"] for r in results[1:]}
