"""``thread`` against real target processes over HTTP."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(60)

CONTENDED = """
import threading, time
lock = threading.Lock()
def holder():
    with lock:
        time.sleep(600)
def waiter():
    with lock:
        pass
def spin():
    x = 0
    while True:
        x += 1
threading.Thread(target=holder, name="lock-holder", daemon=True).start()
time.sleep(0.2)
for i in range(3):
    threading.Thread(target=waiter, name=f"waiter-{i}", daemon=True).start()
threading.Thread(target=spin, name="spinner", daemon=True).start()
print("ready", flush=True)
time.sleep(600)
"""


def _body(results: list[dict], kind: str = "thread") -> dict:
    return next(r for r in results if r["type"] == kind)


def _status(results: list[dict]) -> dict:
    return results[-1]


def test_thread_list_states_and_counts(make_target, any_python):
    target = make_target(CONTENDED, python=any_python)
    target.wait_for_output("ready")
    body = _body(target.results("thread"))
    names = {t["name"]: t for t in body["threadStats"]}
    assert {"lock-holder", "spinner", "waiter-0", "MainThread"} <= set(names)
    assert names["waiter-1"]["state"] == "BLOCKED"
    assert names["lock-holder"]["state"] == "TIMED_WAITING"
    assert names["spinner"]["state"] == "RUNNABLE"
    assert set(body["threadStateCount"]) == {
        "NEW",
        "RUNNABLE",
        "BLOCKED",
        "WAITING",
        "TIMED_WAITING",
        "TERMINATED",
    }
    assert body["threadStateCount"]["BLOCKED"] == 3
    assert names["spinner"]["cpu"] > 20


def test_thread_top_n_picks_the_spinning_thread(make_target, any_python):
    target = make_target(CONTENDED, python=any_python)
    target.wait_for_output("ready")
    busy = _body(target.results("thread -n 1 -i 300"))["busyThreads"]
    assert [t["name"] for t in busy] == ["spinner"]
    assert busy[0]["stackTrace"][0]["methodName"] == "spin"
    assert busy[0]["stackTrace"][0]["fileName"].endswith("target_main.py")


def test_thread_b_finds_the_lock_holder(make_target, any_python):
    target = make_target(CONTENDED, python=any_python)
    target.wait_for_output("ready")
    info = _body(target.results("thread -b"))["blockingLockInfo"]
    assert info["threadInfo"]["threadName"] == "lock-holder"
    assert info["blockingThreadCount"] == 3
    assert info["threadInfo"]["stackTrace"][0]["methodName"] == "holder"


def test_thread_by_id_and_missing_id(make_target):
    target = make_target(CONTENDED)
    target.wait_for_output("ready")
    stats = _body(target.results("thread"))["threadStats"]
    spinner = next(t for t in stats if t["name"] == "spinner")
    info = _body(target.results(f"thread {spinner['id']}"))["threadInfo"]
    assert info["threadName"] == "spinner"
    assert info["stackTrace"][0]["methodName"] == "spin"
    missing = target.results("thread 999999999")
    assert _status(missing) == {
        "type": "status",
        "jobId": missing[-1]["jobId"],
        "statusCode": 1,
        "message": "thread do not exist! id: 999999999",
    }


def test_thread_state_filter_and_bad_state(make_target):
    target = make_target(CONTENDED)
    target.wait_for_output("ready")
    blocked = _body(target.results("thread --state blocked"))["threadStats"]
    assert sorted(t["name"] for t in blocked) == ["waiter-0", "waiter-1", "waiter-2"]
    bad = _status(target.results("thread --state SLEEPY"))
    assert bad["statusCode"] == 1 and "state should be one of" in bad["message"]
    assert _status(target.results("thread -i x"))["statusCode"] == -10
    assert _status(target.results("thread -b -n"))["statusCode"] == -10


def test_thread_tasks_lists_asyncio_tasks(make_target):
    source = """
import asyncio, threading
async def napper():
    await asyncio.sleep(600)
async def main():
    asyncio.create_task(napper(), name="napper-task")
    print("ready", flush=True)
    await asyncio.sleep(600)
asyncio.run(main())
"""
    target = make_target(source)
    target.wait_for_output("ready")
    tasks = _body(target.results("thread --tasks"))["tasks"]
    napper = next(t for t in tasks if t["name"] == "napper-task")
    assert napper["state"] == "PENDING"
    assert napper["stackTrace"][0]["methodName"] == "napper"
