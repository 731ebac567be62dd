"""vmtool, heapdump and logger against real target processes over HTTP."""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.timeout(60)

LEAKY = """
import logging, threading, time

class Session:
    def __init__(self, n):
        self.n = n

class Leak:
    pass

KEEP = [Session(i) for i in range(5)]
LEAKED = []
GROW = threading.Event()

def leaker():
    while True:
        if GROW.is_set():
            LEAKED.extend(Leak() for _ in range(500))
            GROW.clear()
        time.sleep(0.02)

threading.Thread(target=leaker, daemon=True).start()
log = logging.getLogger("shop.orders")
log.addHandler(logging.StreamHandler())
log.setLevel(logging.WARNING)
print("ready", flush=True)
time.sleep(600)
"""


def _first(results: list[dict], kind: str) -> dict:
    return next(r for r in results if r["type"] == kind)


@pytest.fixture
def leaky(make_target):
    target = make_target(LEAKY)
    target.wait_for_output("ready")
    return target


def test_get_instances(leaky):
    got = _first(
        leaky.results("vmtool --action getInstances --className __main__.Session --limit 3"),
        "vmtool",
    )
    assert len(got["value"]) == 3
    ns = _first(
        leaky.results(
            "vmtool --action getInstances --className __main__.Session --limit 10 "
            "--express 'sorted(i.n for i in instances)'"
        ),
        "vmtool",
    )
    assert ns["value"] == [0, 1, 2, 3, 4]
    missing = leaky.results("vmtool --action getInstances --className nope.Nothing")[-1]
    assert missing["statusCode"] == 1
    assert leaky.results("vmtool --action getInstances")[-1]["statusCode"] == -1
    gc_run = leaky.results("vmtool --action forceGc")
    assert [r["type"] for r in gc_run] == ["status"] and gc_run[0]["statusCode"] == 0
    assert leaky.results("vmtool --action nope")[-1]["statusCode"] == -1


def test_histogram_diff_shows_planted_leak(make_target, any_python):
    leaky = make_target(LEAKY, python=any_python)
    leaky.wait_for_output("ready")
    assert leaky.results("vmtool --action diff")[-1]["statusCode"] == 1
    hist = _first(leaky.results("vmtool --action histogram --limit 50"), "vmtool")
    assert hist["totalObjects"] > 1000 and hist["snapshotId"] >= 1
    leaky.results("ognl 'sys.modules[\"__main__\"].GROW.set()'")
    time.sleep(0.3)
    diff = _first(leaky.results("vmtool --action diff --limit 5"), "vmtool")
    top = diff["histogram"][0]
    assert top["name"] == "__main__.Leak"
    assert top["countDelta"] == 500 and top["sizeDelta"] > 0


def test_heapdump_writes_json_lines(leaky, tmp_path):
    path = tmp_path / "dump.jsonl"
    results = leaky.results(f"heapdump --live {path}")
    assert [r.get("message") for r in results if r["type"] == "message"] == [
        f"Dumping heap to {path} ...",
        "Heap dump file created",
    ]
    assert _first(results, "heapdump") == {
        "type": "heapdump",
        "jobId": results[0]["jobId"],
        "dumpFile": str(path),
        "live": True,
    }
    types = [json.loads(line)["type"] for line in path.read_text().splitlines()]
    assert types.count("__main__.Session") == 5
    default = _first(leaky.results("heapdump"), "heapdump")
    assert default["dumpFile"].endswith(".jsonl") and default["live"] is False


def test_logger_tree_and_level_change(leaky):
    tree = _first(leaky.results("logger"), "logger")["loggerInfoMap"]
    orders = tree["shop.orders"]
    assert orders["level"] == "WARNING" and orders["effectiveLevel"] == "WARNING"
    assert orders["appenders"][0]["class"] == "logging.StreamHandler"
    assert tree["root"]["level"] == "WARNING"
    done = leaky.results("logger --name shop.orders --level debug")[-1]
    assert done["statusCode"] == 0 and done["message"] == "Update logger level success."
    one = _first(leaky.results("logger -n shop.orders"), "logger")["loggerInfoMap"]
    assert list(one) == ["shop.orders"] and one["shop.orders"]["level"] == "DEBUG"
    assert leaky.results("logger --name shop.orders --level LOUD")[-1]["statusCode"] == -1
    assert leaky.results("logger -n no.such")[-1]["statusCode"] == 1
