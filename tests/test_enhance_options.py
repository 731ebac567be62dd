"""The enhancement commands' options, each checked by what it shows, on every CPython against
a real target: watch -s/-e/-f, the advice names, -E and |-joined patterns,
--exclude-class-pattern, stack conditions, tt -s and the bounded store, an expression failing
on some calls, reset by pattern, a running function while hooks come and go, and the hooks of
a session whose consumer timed out."""

from __future__ import annotations

import time

import pytest

TARGET = """
import sys, threading, time

class Cart:
    def __init__(self):
        self.items = []
    def add(self, item, qty=1):
        if qty < 0:
            raise ValueError("negative qty")
        self.items.append(item)
        return len(self.items)

class Ledger:
    def add(self, x):
        return x

def helper(n):
    return n * 2

def long_running(n):  # two seconds of Python, so hooks come and go while it runs
    total, deadline = 0, time.monotonic() + 2
    while time.monotonic() < deadline:
        total += helper(1)
    return n

def report():
    engine = None
    while True:
        engine = engine or sys.modules.get("livescope.instrument.engine")
        count = getattr(engine, "hooked_count", None)
        sys.stdout.write("hooks=%d\\n" % (count() if count else 0))
        time.sleep(0.2)

def run_long():
    while True:
        sys.stdout.write("long=%d\\n" % long_running(7))

threading.Thread(target=report, daemon=True).start()
threading.Thread(target=run_long, daemon=True).start()
cart, ledger, i = Cart(), Ledger(), 0
while True:
    i += 1
    try:
        cart.add("apple", i % 3 - 1)  # qty 0, 1, -1: every third call raises
    except ValueError:
        pass
    ledger.add(i)
    time.sleep(0.005)
"""


@pytest.fixture
def target(make_target, any_python):
    return make_target(TARGET, python=any_python)


def items(target, command: str, kind: str, timeout_ms: int = 15000) -> list[dict]:
    results = target.results(command, execTimeout=timeout_ms)
    assert results[0]["type"] == "enhancer", results
    return [r for r in results if r["type"] == kind]


def test_watch_success_exception_and_finish(target) -> None:
    express = "'{params[1], returnObj, throwExp}'"
    success = items(target, f"watch __main__.Cart add {express} -s -n 4", "watch")
    assert len(success) == 4
    assert all(v["value"][0] >= 0 and isinstance(v["value"][1], int) for v in success)
    assert all(v["value"][2] is None for v in success)
    failed = items(target, f"watch __main__.Cart add {express} -e -n 3", "watch")
    assert [v["value"][0] for v in failed] == [-1, -1, -1]
    assert all(v["value"][2]["@type"] == "ValueError" for v in failed)
    assert all(v["value"][2]["message"] == "negative qty" for v in failed)
    finished = items(target, f"watch __main__.Cart add {express} -f -n 6", "watch")
    kinds = {v["value"][2] is None for v in finished}
    assert kinds == {True, False}  # returns and throws both reported at the finish


def test_advice_names(target) -> None:
    express = (
        "'{target.__class__.__name__, clazz.__name__, method.__name__,"
        " isBefore, isReturn, isThrow, #cost >= 0}'"
    )
    (before,) = items(target, f"watch __main__.Cart add {express} -b -n 1", "watch")
    assert before["value"] == ["Cart", "Cart", "add", True, False, False, True]
    assert before["accessPoint"] == "AtEnter"
    (after,) = items(target, f"watch __main__.Cart add {express} -s -n 1", "watch")
    assert after["value"] == ["Cart", "Cart", "add", False, True, False, True]


def test_regex_joined_and_excluded_patterns(target) -> None:
    def affected(command: str) -> tuple[int, int, set[str]]:
        results = target.results(command, execTimeout=15000)
        effect = results[0]["effect"]
        classes = {r["className"] for r in results if r["type"] == "watch"}
        return effect["classCount"], effect["methodCount"], classes

    both = {"__main__.Cart", "__main__.Ledger"}
    assert affected(r"watch -E '__main__\.(Cart|Ledger)' add -n 40") == (2, 2, both)
    assert affected("watch '__main__.Cart|__main__.Ledger' add -n 40") == (2, 2, both)
    # an alternation inside one regex: add|helper; the class regex needs the dot, so the
    # module-level helper (class name "__main__") stays out
    assert affected("watch -E '__main__\\..*' 'add|helper' -n 1")[:2] == (2, 2)
    excluded = affected("watch '__main__.*' add --exclude-class-pattern '*Ledger' -n 10")
    assert excluded == (1, 1, {"__main__.Cart"})


def test_stack_condition(target) -> None:
    stacks = items(target, "stack __main__.Cart add 'params[1] < 0' -n 2", "stack")
    assert len(stacks) == 2
    assert stacks[0]["stackTrace"][0]["methodName"] == "add"
    assert stacks[0]["stackTrace"][1]["methodName"] == "<module>"
    assert items(target, "stack __main__.Cart add 'params[1] > 5' -n 1", "stack", 1500) == []


def test_tt_search_and_the_bounded_store(target) -> None:
    recorded = items(target, "tt -t __main__.Cart add -n 9", "tt")
    assert len(recorded) == 9
    found = target.results("tt -s 'isThrow'")
    fragments = found[0]["timeFragmentList"]
    assert len(fragments) == 3 and all(f["throw"] for f in fragments)
    assert found[1]["rowCount"] == 3
    by_params = target.results("tt -s 'params[1] == 0'")[0]["timeFragmentList"]
    assert len(by_params) == 3 and not any(f["throw"] for f in by_params)
    # the store keeps the newest 1000 records
    first = recorded[0]["timeFragmentList"][0]["index"]
    items(target, "tt -t __main__.Ledger add -n 1000", "tt", 60000)
    listed = target.results("tt -l")[0]["timeFragmentList"]
    indexes = [f["index"] for f in listed]
    assert len(indexes) == 1000 and indexes == sorted(indexes)
    assert indexes[0] == first + 9  # the nine Cart records were the oldest, dropped


def test_a_failing_expression_is_reported_once_and_the_watch_goes_on(target) -> None:
    results = target.results("watch __main__.Ledger add '1 // (params[0] % 2)' -n 3")
    messages = [r["message"] for r in results if r["type"] == "message"]
    failures = [m for m in messages if "ZeroDivisionError" in m]
    assert len(failures) == 1, messages
    assert [r["value"] for r in results if r["type"] == "watch"] == [1, 1, 1]
    assert results[-1]["statusCode"] == 0


def test_reset_by_pattern_counts_what_it_removed(target) -> None:
    session = target.api({"action": "init_session"})
    sid = session["sessionId"]
    never = "'params[0] == \"never\"'"  # no result: the jobs run until reset ends them
    for command in (
        f"watch __main__.Cart add {{params}} {never} &",
        f"watch __main__ helper {{params}} {never} &",
    ):
        target.api({"action": "async_exec", "sessionId": sid, "command": command})
    deadline = time.monotonic() + 10
    while target.reports("hooks")[-1:] != [2]:
        assert time.monotonic() < deadline, target.output()[-500:]
        time.sleep(0.05)
    cart = target.results("reset *Cart")[0]["affect"]
    assert (cart["classCount"], cart["methodCount"]) == (1, 1)
    rest = target.results("reset")[0]["affect"]
    assert (rest["classCount"], rest["methodCount"]) == (1, 1)
    assert target.results("reset")[0]["affect"]["methodCount"] == 0


def test_a_running_function_keeps_working_while_hooks_come_and_go(target) -> None:
    seen = len(target.reports("long"))
    for _ in range(6):  # watches of the running function and of what it calls, on and off
        target.results("watch __main__ long_running -n 1", execTimeout=300)
        target.results("trace __main__ helper -n 1", execTimeout=300)
        target.results("monitor __main__ helper -c 1 -n 1", execTimeout=300)
    deadline = time.monotonic() + 15
    while len(target.reports("long")) < seen + 2:
        assert time.monotonic() < deadline, target.output()[-500:]
        time.sleep(0.1)
    output = target.output()
    assert set(target.reports("long")) == {7}, output
    assert "Traceback" not in output, output[output.find("Traceback") - 300 :]


def test_hooks_go_when_the_sessions_last_consumer_times_out(make_target, any_python) -> None:
    target = make_target(
        TARGET,
        python=any_python,
        env={"LIVESCOPE_CONSUMER_TIMEOUT": "1", "LIVESCOPE_REAPER_INTERVAL": "0.5"},
    )
    session = target.api({"action": "init_session"})
    target.api(
        {
            "action": "async_exec",
            "sessionId": session["sessionId"],
            "command": "watch __main__ helper {params} 'params[0] < 0'",  # never a result
        }
    )
    pull = {
        "action": "pull_results",
        "sessionId": session["sessionId"],
        "consumerId": session["consumerId"],
    }
    deadline = time.monotonic() + 10
    while target.reports("hooks")[-1:] != [1]:  # pulls keep the consumer alive meanwhile
        assert time.monotonic() < deadline, target.output()[-500:]
        assert target.api(pull)["state"] == "SUCCEEDED"
    # nobody pulls now: the consumer times out, its job is interrupted, the hook goes
    deadline = time.monotonic() + 15
    while target.reports("hooks")[-1:] != [0]:
        assert time.monotonic() < deadline, target.output()[-500:]
        time.sleep(0.1)
    joined = target.api({"action": "join_session", "sessionId": session["sessionId"]})
    pulled = target.api(
        {
            "action": "pull_results",
            "sessionId": session["sessionId"],
            "consumerId": joined["consumerId"],
        }
    )
    messages = [r.get("message") for r in pulled["body"]["results"] if r["type"] == "message"]
    assert "all consumers timed out, a job hooking functions was interrupted." in messages
