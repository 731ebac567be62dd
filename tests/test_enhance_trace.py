"""``trace`` in detail, on every CPython against a real target: callees merged by call site with
their counts and times in ns, callees that raise, builtins shown or not, conditions on
``#cost``, and async functions timed across their awaits, overlapping calls each traced."""

from __future__ import annotations

import pytest

TARGET = """
import asyncio, threading, time

def leaf(n):
    return n

def fails():
    raise KeyError("x")

def sync_root(n):
    for _ in range(2):
        leaf(n)  # one call site, two calls: one node
    try:
        fails()
    except KeyError:
        pass
    len("abc")
    time.sleep(0.02)
    return n

async def child():
    await asyncio.sleep(0.05)
    await asyncio.sleep(0.05)
    return 1

async def async_root(tag):
    await child()
    return tag

async def loop_main():
    while True:
        await asyncio.gather(async_root("a"), async_root("b"))  # two calls overlapping
        await asyncio.sleep(0.02)

threading.Thread(target=lambda: asyncio.run(loop_main()), daemon=True).start()
while True:
    sync_root(3)
    time.sleep(0.01)
"""

MS = 1_000_000  # trace costs are in ns


@pytest.fixture
def target(make_target, any_python):
    return make_target(TARGET, python=any_python)


def traced_calls(target, command: str, **request) -> list[dict]:
    """The root MethodNode of every ``trace`` item the command produced."""
    results = target.results(command, execTimeout=request.pop("execTimeout", 15000))
    assert results[0]["type"] == "enhancer" and results[0]["success"], results
    return [r["root"]["children"][0] for r in results if r["type"] == "trace"]


def test_callees_merged_with_counts_costs_and_throws(target) -> None:
    (root,) = traced_calls(target, "trace __main__ sync_root -n 1")
    assert (root["className"], root["methodName"], root["times"]) == ("__main__", "sync_root", 1)
    assert root["cost"] >= 20 * MS  # its time.sleep(0.02), in ns
    children = {c["methodName"]: c for c in root["children"]}
    assert set(children) == {"leaf", "fails"}  # builtins left out by default
    leaf = children["leaf"]
    assert leaf["times"] == 2 and leaf["className"] == "__main__"
    assert 0 < leaf["minCost"] <= leaf["maxCost"] <= leaf["totalCost"] == leaf["cost"]
    assert leaf["totalCost"] < root["cost"]
    assert children["fails"]["throw"] is True and children["fails"]["times"] == 1
    assert "throw" not in leaf or leaf["throw"] is None


def test_builtins_shown_when_asked(target) -> None:
    (root,) = traced_calls(target, "trace __main__ sync_root --skip-builtins false -n 1")
    names = {(c["className"], c["methodName"]) for c in root["children"]}
    assert {("builtins", "len"), ("time", "sleep"), ("__main__", "leaf")} <= names
    sleep = next(c for c in root["children"] if c["methodName"] == "sleep")
    assert sleep["cost"] >= 20 * MS


def test_cost_condition_in_milliseconds(target) -> None:
    assert len(traced_calls(target, "trace __main__ sync_root '#cost > 10' -n 1")) == 1
    assert (
        traced_calls(target, "trace __main__ sync_root '#cost > 5000' -n 1", execTimeout=1500) == []
    )


def test_async_calls_timed_across_awaits(target) -> None:
    roots = traced_calls(target, "trace __main__ async_root -n 4")
    assert len(roots) == 4
    for root in roots:
        assert root["cost"] >= 100 * MS  # two awaits of 50 ms: wall time, not the CPU slices
        (child,) = root["children"]
        assert child["methodName"] == "child" and child["times"] == 1  # one call, not 3 slices
        assert 100 * MS <= child["cost"] <= root["cost"]


def test_overlapping_async_calls_each_get_their_own_tree(target) -> None:
    # async_root("a") and async_root("b") run at once on one loop: "b" is not taken for a
    # recursion inside "a", and neither tree holds the other's callee.
    (root,) = traced_calls(target, "trace __main__ async_root 'params[0] == \"b\"' -n 1")
    (child,) = root["children"]
    assert child["times"] == 1
