"""watch, stack, monitor and tt against the real demo target, through the HTTP API, on every
CPython; the hooks are gone once each job ends."""

from __future__ import annotations

import time

import pytest

DEMO = """
import os, sys, threading, time, livescope.demo
sys.path.insert(0, os.path.dirname(livescope.demo.__file__))
import demo

def report():
    while True:
        engine = sys.modules.get("livescope.instrument.engine")
        # the module shows in sys.modules while it is still being imported
        count = getattr(engine, "hooked_count", None)
        sys.stdout.write("hooks=%d\\n" % (count() if count else 0))
        sys.stdout.flush()
        time.sleep(0.2)

threading.Thread(target=report, daemon=True).start()
demo.main(0.02)
"""


@pytest.fixture
def demo(make_target, any_python):
    return make_target(DEMO, python=any_python)


def hooks_now(target) -> int:
    """The hook count the target printed most recently (after at least one new report)."""
    seen = len(target.reports("hooks"))
    deadline = time.monotonic() + 5
    while len(target.reports("hooks")) <= seen and time.monotonic() < deadline:
        time.sleep(0.05)
    return target.reports("hooks")[-1]


HAMMERED = """
import sys, threading, time

def busy(x):
    return x + 1

# the GIL changes hands every 10 µs, so that the hammering threads run between the hooks
# going in and the agent's next step
sys.setswitchinterval(1e-5)

def hammer():
    while True:
        busy(1)

for _ in range(2):
    threading.Thread(target=hammer, daemon=True).start()
while True:
    time.sleep(1)
"""


@pytest.mark.parametrize("command", ["watch", "stack", "tt -t", "trace"])
def test_enhancer_comes_first_under_hammering_threads(make_target, any_python, command) -> None:
    """Threads call the function while its hooks go in: no result may overtake ``enhancer``."""
    target = make_target(HAMMERED, python=any_python)
    for _ in range(5):
        results = target.results(f"{command} __main__ busy -n 1", execTimeout=10000)
        types = [r["type"] for r in results]
        assert types[0] == "enhancer", types
        assert types[-1] == "status" and results[-1]["statusCode"] == 0, results


def test_watch_seed_example(demo) -> None:
    results = demo.results('watch demo.MathGame primeFactors "{params, returnObj, throwExp}" -n 4')
    assert [r["type"] for r in results][:1] == ["enhancer"]
    enhancer = results[0]
    assert enhancer["success"] is True
    assert enhancer["effect"]["classCount"] == 1 and enhancer["effect"]["methodCount"] == 1
    watches = [r for r in results if r["type"] == "watch"]
    assert len(watches) == 4
    for w in watches:
        assert w["sizeLimit"] == 10485760 and w["expand"] == 1
        assert w["className"] == "demo.MathGame" and w["methodName"] == "primeFactors"
        assert isinstance(w["cost"], float)
        assert len(w["ts"]) == 23  # yyyy-MM-dd HH:mm:ss.SSS
        (number,), factors, error = w["value"]
        if number < 2:
            assert w["accessPoint"] == "AtExceptionExit" and factors is None
            assert error["@type"] == "ValueError"
            assert error["message"] == f"number is: {number}, need >= 2"
            assert error["localizedMessage"] == error["message"]
            top = error["stackTrace"][0]
            assert (top["className"], top["methodName"]) == ("demo.MathGame", "primeFactors")
            assert top["fileName"].endswith("demo.py") and top["lineNumber"] > 0
        else:
            assert w["accessPoint"] == "AtExit" and error is None
            product = 1
            for f in factors:
                product *= f
            assert product == number
    assert results[-1] == {"type": "status", "jobId": results[0]["jobId"], "statusCode": 0}
    assert hooks_now(demo) == 0


def test_watch_exception_only_with_condition_and_map(demo) -> None:
    results = demo.results(
        'watch demo.MathGame primeFactors "#{\\"n\\": params[0], \\"e\\": throwExp}" '
        '"params[0] < 0 && #cost >= 0" -e -n 2'
    )
    watches = [r for r in results if r["type"] == "watch"]
    assert len(watches) == 2
    for w in watches:
        assert w["accessPoint"] == "AtExceptionExit"
        assert w["value"]["n"] < 0 and w["value"]["e"]["@type"] == "ValueError"


def test_watch_before_has_no_return_value(demo) -> None:
    results = demo.results("watch demo.MathGame primeFactors {params,returnObj} -b -n 1")
    (w,) = [r for r in results if r["type"] == "watch"]
    assert w["accessPoint"] == "AtEnter"
    assert len(w["value"]) == 2 and w["value"][1] is None


def test_nothing_matched_and_bad_expression(demo) -> None:
    results = demo.results("watch demo.NoSuch primeFactors")
    assert results[0]["type"] == "enhancer" and results[0]["success"] is False
    assert results[0]["message"].startswith("No class or method is affected")
    assert results[-1]["statusCode"] == -1
    results = demo.results('watch demo.MathGame primeFactors "{params"')
    assert results[-1]["statusCode"] == -1
    assert "Syntax error in expression" in results[-1]["message"]
    assert hooks_now(demo) == 0


def test_stack_and_monitor(demo) -> None:
    results = demo.results("stack demo.MathGame primeFactors -n 1")
    (stack,) = [r for r in results if r["type"] == "stack"]
    frames = [(f["className"], f["methodName"]) for f in stack["stackTrace"]]
    assert frames[:3] == [
        ("demo.MathGame", "primeFactors"),
        ("demo.MathGame", "run"),
        ("demo", "main"),
    ]
    assert stack["threadName"] == "MainThread" and isinstance(stack["threadId"], str)
    results = demo.results("monitor -c 0.5 -n 2 demo.MathGame primeFactors")
    cycles = [r for r in results if r["type"] == "monitor"]
    assert len(cycles) == 2
    data = cycles[0]["monitorDataList"][0]
    assert data["className"] == "demo.MathGame" and data["methodName"] == "primeFactors"
    assert data["total"] == data["success"] + data["failed"] > 0
    assert hooks_now(demo) == 0


def test_tt_record_inspect_replay_delete(demo) -> None:
    results = demo.results("tt -t demo.MathGame primeFactors -n 3")
    records = [r for r in results if r["type"] == "tt"]
    assert len(records) == 3 and records[0]["first"] is True
    fragment = records[0]["timeFragmentList"][0]
    index = fragment["index"]
    assert (
        fragment["className"] == "demo.MathGame" and fragment["object"]["@type"] == "demo.MathGame"
    )
    number = fragment["params"][0]["object"]
    assert fragment["params"][0]["expand"] == 1
    assert hooks_now(demo) == 0
    listed = demo.results("tt -l")
    assert [f["index"] for f in listed[0]["timeFragmentList"]][-3:] == [index, index + 1, index + 2]
    assert listed[1] == {"type": "row_affect", "jobId": listed[0]["jobId"], "rowCount": 3}
    shown = demo.results(f"tt -i {index} -w params[0]")
    assert shown[0]["watchValue"] == number
    replayed = demo.results(f"tt -i {index} -p")[0]["replayResult"]
    assert replayed["return"] == fragment["return"]
    assert replayed.get("returnObj") == fragment.get("returnObj")
    missing = demo.results("tt -i 999999")
    assert missing[-1] == {
        "type": "status",
        "jobId": missing[-1]["jobId"],
        "statusCode": 1,
        "message": "Time fragment[999999] does not exist.",
    }
    cleared = demo.results("tt --delete-all")
    assert cleared[0]["message"] == "Time fragments are cleaned, count: 3"


def test_interrupt_removes_hooks(demo) -> None:
    session = demo.api({"action": "init_session"})
    sid = session["sessionId"]
    started = demo.api(
        {"action": "async_exec", "sessionId": sid, "command": "watch demo.MathGame *"}
    )
    deadline = time.monotonic() + 10
    while hooks_now(demo) == 0 and time.monotonic() < deadline:
        pass
    assert hooks_now(demo) > 0
    reply = demo.api({"action": "interrupt_job", "sessionId": sid})
    job = started["body"]["jobId"]
    assert reply == {"state": "SUCCEEDED", "body": {"jobId": job, "jobStatus": "TERMINATED"}}
    deadline = time.monotonic() + 10
    while hooks_now(demo) != 0 and time.monotonic() < deadline:
        pass
    assert hooks_now(demo) == 0


def test_trace_direct_calls_in_nanoseconds(demo) -> None:
    results = demo.results("trace demo.MathGame run -n 2")
    traces = [r for r in results if r["type"] == "trace"]
    assert len(traces) == 2
    thread = traces[0]["root"]
    assert thread["type"] == "thread" and thread["threadName"] == "MainThread"
    (run,) = thread["children"]
    assert (run["className"], run["methodName"], run["times"]) == ("demo.MathGame", "run", 1)
    children = {c["methodName"]: c for c in run["children"]}
    assert "primeFactors" in children and "randint" in children
    assert all(0 < c["cost"] <= run["cost"] for c in children.values())
    assert traces[0]["nodeCount"] == 2 + len(run["children"])
    assert hooks_now(demo) == 0
    # a never-true cost condition: enhancer, then nothing until interrupted
    results = demo.results("trace demo.MathGame run '#cost > 100000' -n 1", execTimeout=1500)
    assert [r["type"] for r in results if r["type"] == "trace"] == []
    assert hooks_now(demo) == 0


def test_stack_and_trace_on_one_function_at_once(demo) -> None:
    # Two commands from two sessions hook the same function; each keeps its own per-call state.
    def start(command: str) -> tuple[str, str]:
        session = demo.api({"action": "init_session"})
        sid, consumer = session["sessionId"], session["consumerId"]
        demo.api({"action": "async_exec", "sessionId": sid, "command": command})
        return sid, consumer

    stack = start("stack demo.MathGame primeFactors -n 3")
    trace = start("trace demo.MathGame primeFactors -n 3")
    seen: dict[str, list[dict]] = {"stack": [], "trace": []}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(len(v) >= 3 for v in seen.values()):
        for kind, (sid, consumer) in (("stack", stack), ("trace", trace)):
            pulled = demo.api({"action": "pull_results", "sessionId": sid, "consumerId": consumer})
            seen[kind] += [r for r in pulled["body"]["results"] if r["type"] == kind]
    assert len(seen["stack"]) == 3 and len(seen["trace"]) == 3
    assert all(s["stackTrace"][0]["methodName"] == "primeFactors" for s in seen["stack"])
    assert all(t["root"]["children"][0]["methodName"] == "primeFactors" for t in seen["trace"])
    assert hooks_now(demo) == 0


LONG_CALLS = """
import sys, time

def child():
    return 1

def slow():  # one second, in ten sleeps: a trace hook often goes while one is running
    for _ in range(10):
        time.sleep(0.1)
    return child()

while True:
    slow()
    sys.stdout.write("profile=%d\\n" % (sys.getprofile() is not None))
    sys.stdout.flush()
"""


@pytest.mark.parametrize("ending", ["execTimeout", "reset", "close_session"])
def test_a_trace_ended_during_a_call_leaves_no_profile_function(
    make_target, any_python, ending
) -> None:
    """Calls start every second and last one: whichever way the trace ends 2.5 s after its
    hook went in, one call is running then and never reports its end to the trace."""
    target = make_target(LONG_CALLS, python=any_python)
    if ending == "execTimeout":
        results = target.results("trace __main__ slow", execTimeout=2500)
    else:
        session = target.api({"action": "init_session"})
        sid, consumer = session["sessionId"], session["consumerId"]
        target.api({"action": "async_exec", "sessionId": sid, "command": "trace __main__ slow"})
        results = []
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            pulled = target.api(
                {"action": "pull_results", "sessionId": sid, "consumerId": consumer}
            )
            results += pulled["body"]["results"]
        if ending == "reset":
            assert target.results("reset")[0]["affect"]["methodCount"] == 1
        else:
            target.api({"action": "close_session", "sessionId": sid})
    traces = [r for r in results if r["type"] == "trace"]
    assert traces and traces[0]["root"]["children"][0]["methodName"] == "slow"
    assert traces[0]["root"]["children"][0]["children"][0]["methodName"] == "child"
    seen = len(target.reports("profile"))
    deadline = time.monotonic() + 10
    while len(target.reports("profile")) < seen + 2:  # the running call and one after it
        assert time.monotonic() < deadline, target.output()
        time.sleep(0.05)
    assert target.reports("profile")[-1] == 0  # the main thread runs without a profile function


FACTORY_MADE = """
import time

def make_handler():
    def handle(v):
        return v
    return handle

handler = make_handler()
while True:
    handler(5)
    time.sleep(0.01)
"""


def test_a_shared_closure_is_hooked_and_said_to_be_shared(make_target, any_python) -> None:
    target = make_target(FACTORY_MADE, python=any_python)
    results = target.results("watch __main__ handler params -n 1", execTimeout=10000)
    assert [r["type"] for r in results[:3]] == ["enhancer", "message", "watch"]
    assert results[0]["success"] is True
    message = results[1]["message"]
    assert "__main__.handler is reachable only through make_handler.<locals>.handle" in message
    assert "functools.wraps" in message
    assert results[2]["value"] == [5]
    assert results[-1]["statusCode"] == 0


def test_seed_map_watch_as_one_shot_exec(demo) -> None:
    # spec/002's map form, word for word, as a one-shot exec with execTimeout
    command = (
        """watch *MathGame prime* '#{ "params" : params, "returnObj" : returnObj,"""
        """ "throwExp": throwExp}' -x 2 -n 5"""
    )
    reply = demo.exec(command, execTimeout=20000)
    assert reply["state"] == "SUCCEEDED", reply
    results = reply["body"]["results"]
    assert results[0]["type"] == "enhancer" and results[0]["effect"]["methodCount"] == 1
    watches = [r for r in results if r["type"] == "watch"]
    assert len(watches) == 5
    for item in watches:
        value = item["value"]  # null values are left out, as Arthas writes them
        number = value["params"][0]
        if number < 2:
            assert set(value) == {"params", "throwExp"}
            assert value["throwExp"]["message"] == f"number is: {number}, need >= 2"
        else:
            assert set(value) == {"params", "returnObj"} and isinstance(value["returnObj"], list)
    assert results[-1]["statusCode"] == 0
