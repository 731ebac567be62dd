"""memory, dashboard, pyvm/jvm and vmoption against real target processes over HTTP."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(60)

IDLE = """
import threading, time
threading.Thread(target=time.sleep, args=(600,), name="sleeper", daemon=True).start()
print("ready", flush=True)
time.sleep(600)
"""


def _first(results: list[dict], kind: str) -> dict:
    return next(r for r in results if r["type"] == kind)


def test_memory_groups(make_target, any_python):
    target = make_target(IDLE, python=any_python)
    info = _first(target.results("memory"), "memory")["memoryInfo"]
    assert set(info) == {"heap", "nonheap", "buffer_pool"}
    assert info["heap"][0]["name"] == "heap" and info["nonheap"][0]["name"] == "nonheap"
    for group in info.values():
        for entry in group:
            assert set(entry) == {"type", "name", "used", "total", "max"}
    rss = next(e for e in info["buffer_pool"] if e["name"] == "rss")
    assert 1_000_000 < rss["used"] <= rss["total"]


def test_dashboard_n_times(make_target):
    target = make_target(IDLE)
    results = target.results("dashboard -i 200 -n 2")
    boards = [r for r in results if r["type"] == "dashboard"]
    assert len(boards) == 2
    board = boards[0]
    assert any(t["name"] == "sleeper" for t in board["threads"])
    assert [g["name"] for g in board["gcInfos"]] == ["gen0", "gen1", "gen2"]
    runtime = board["runtimeInfo"]
    assert runtime["javaVersion"].count(".") == 2 and runtime["processors"] >= 1
    assert 0 < runtime["uptime"] < 120_000
    assert results[-1]["statusCode"] == 0
    assert results[-1]["message"] == "Process ends after 2 time(s)."
    assert target.results("dashboard -i 0")[-1]["statusCode"] == -1


def test_pyvm_groups(make_target, any_python):
    target = make_target(IDLE, python=any_python)
    info = _first(target.results("pyvm"), "jvm")["jvmInfo"]
    assert list(info)[:3] == ["RUNTIME", "CLASS-LOADING", "GARBAGE-COLLECTORS"]
    runtime = {item["name"]: item["value"] for item in info["RUNTIME"]}
    assert runtime["EXECUTABLE"] == any_python or runtime["PID"] == target.pid
    threads = {item["name"]: item["value"] for item in info["THREAD"]}
    assert threads["COUNT"] >= 3
    fds = {item["name"]: item["value"] for item in info["FILE-DESCRIPTOR"]}
    assert fds["OPEN-FILE-DESCRIPTOR-COUNT"] > 2
    assert _first(target.results("jvm"), "jvm")["jvmInfo"].keys() == info.keys()


def test_vmoption_view_and_change(make_target):
    target = make_target(IDLE)
    options = {o["name"]: o for o in _first(target.results("vmoption"), "vmoption")["vmOptions"]}
    assert options["gc.threshold0"]["writeable"] is True
    assert options["sys.flags.optimize"]["writeable"] is False
    change = _first(target.results("vmoption sys.recursionlimit 4321"), "vmoption")
    assert change["changeResult"]["afterValue"] == 4321
    one = _first(target.results("vmoption sys.recursionlimit"), "vmoption")["vmOptions"]
    assert one == [
        {"name": "sys.recursionlimit", "value": "4321", "origin": "DEFAULT", "writeable": True}
    ]
    bad = target.results("vmoption no.such")[-1]
    assert bad["statusCode"] == -1 and bad["message"] == "Invalid VM option name: no.such"
    assert target.results("vmoption gc.threshold0 abc")[-1]["statusCode"] == -1
    assert target.results("vmoption sys.flags.optimize 2")[-1]["statusCode"] == -1
