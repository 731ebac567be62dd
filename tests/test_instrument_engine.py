"""The engine in-process, on every CPython: each kind of function is seen, nothing is altered.

Each test runs a small driver in a fresh interpreter of the parametrised version (3.10/3.11
use the wrapper backend, 3.12+ sys.monitoring) and checks what it printed as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")

SUBJECT = """
import asyncio, functools

def logged(f):
    @functools.wraps(f)
    def inner(*a, **k):
        return f(*a, **k)
    return inner

class Shape:
    def area(self, w, h=2):
        return w * h
    @staticmethod
    def unit(x):
        return x
    @classmethod
    def make(cls, n):
        return n + 1
    @property
    def name(self):
        return "shape"
    @logged
    def decorated(self, v):
        return v * 10
    async def later(self, v):
        await asyncio.sleep(0)
        return v + 100
    def count(self, n):
        for i in range(n):
            yield i
        return "done"
    def fail(self, n):
        raise ValueError(f"number is: {n}, need >= 2")
    class Inner:
        def deep(self):
            return "deep"

def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)
"""

DRIVER = """
import json, sys, threading, traceback, asyncio
sys.path.insert(0, sys.argv[1])
import subject
from livescope.instrument import engine
from livescope.instrument.matcher import find_methods

def trace_text(fn):
    try:
        fn()
    except Exception as exc:
        return [(f.name, f.lineno) for f in traceback.extract_tb(exc.__traceback__)]

class Recorder(engine.Listener):
    wants_before = True
    def __init__(self):
        super().__init__()
        self.calls = []
    def before(self, a):
        self.calls.append(["before", a.class_name, a.method_name, list(a.params)])
    def after(self, a):
        self.calls.append(["after", a.class_name, a.method_name, list(a.params),
                           repr(a.return_obj), repr(a.throw_exp), a.target is not None,
                           a.cost >= 0])

def exercise():
    s = subject.Shape()
    out = [s.area(3), s.area(3, h=4), subject.Shape.unit(5), s.make(1), s.name,
           s.decorated(2), asyncio.run(s.later(1)), list(s.count(2)),
           subject.Shape.Inner().deep(), subject.fact(3)]
    t = threading.Thread(target=s.area, args=(7,))
    t.start(); t.join()
    t = threading.Thread(target=s.area, args=(8,), name="livescope-worker")
    t.start(); t.join()
    return out

original_members = dict(vars(subject.Shape))
def failing():
    subject.Shape().fail(-170365)

plain_tb = trace_text(failing)
baseline = exercise()
rec = Recorder()
refs = find_methods("subject*", "*")
effect = engine.enhance(refs, rec)
hooked_tb = trace_text(failing)
hooked = exercise()
while_hooked = engine.hooked_count()
affect = engine.reset()
after_calls = len(rec.calls)
exercise()
print(json.dumps({
    "methods": sorted(r.class_name + "." + r.method_name for r in refs),
    "effect": [effect.class_count, effect.method_count, effect.listener_id > 0],
    "same_results": baseline == hooked,
    "calls": rec.calls,
    "plain_tb": plain_tb, "hooked_tb": hooked_tb,
    "hooked_count": while_hooked, "reset": [affect.class_count, affect.method_count],
    "silent_after_reset": len(rec.calls) == after_calls,
    "left": engine.hooked_count(),
    "members_restored": all(vars(subject.Shape)[k] is v for k, v in original_members.items()),
    "tool_free": (not hasattr(sys, "monitoring"))
        or all(sys.monitoring.get_tool(i) != "livescope" for i in range(6)),
}))
"""


def driver_report(python: str, tmp_path: Path, source: str, timeout: float = 60) -> dict:
    """Run ``source`` with ``python`` (livescope from this checkout, the test's directory as
    its argument) and return the JSON it printed."""
    driver = tmp_path / "driver.py"
    driver.write_text(source)
    proc = subprocess.run(
        [python, str(driver), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, PYTHONPATH=SRC),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def run_driver(python: str, tmp_path: Path) -> dict:
    (tmp_path / "subject.py").write_text(textwrap.dedent(SUBJECT))
    return driver_report(python, tmp_path, DRIVER)


@pytest.fixture
def report(any_python: str, tmp_path: Path) -> dict:
    return run_driver(any_python, tmp_path)


def calls_of(report: dict, method: str) -> list[list]:
    return [c for c in report["calls"] if c[2] == method]


def test_every_kind_of_function_is_matched(report: dict) -> None:
    assert report["methods"] == sorted(
        [
            "subject.fact",
            "subject.logged",
            "subject.Shape.area",
            "subject.Shape.count",
            "subject.Shape.decorated",
            "subject.Shape.fail",
            "subject.Shape.later",
            "subject.Shape.make",
            "subject.Shape.name",
            "subject.Shape.unit",
            "subject.Shape.Inner.deep",
        ]
    )
    assert report["effect"] == [3, 11, True]  # subject, Shape, Shape.Inner


def test_params_target_and_return_values(report: dict) -> None:
    area = [c for c in calls_of(report, "area") if c[0] == "after"]
    # self is the target, not a parameter; keyword arguments are parameters too.
    assert area[0][3:] == [[3, 2], "6", "None", True, True]
    assert area[1][3:5] == [[3, 4], "12"]
    assert area[2][3:5] == [[7, 2], "14"]  # from another thread
    assert len(area) == 3  # never on a livescope thread
    after = {c[2]: c for c in report["calls"] if c[0] == "after"}
    assert after["unit"][3:7] == [[5], "5", "None", False]
    assert after["make"][3:7] == [[1], "2", "None", False]
    assert after["name"][4] == "'shape'"
    assert after["decorated"][3:5] == [[2], "20"]
    assert after["later"][3:5] == [[1], "101"]
    assert after["count"][4] == "'done'"  # a generator is one call, to its end
    assert after["deep"][4] == "'deep'"


def test_recursion_sees_every_level(report: dict) -> None:
    fact = [c for c in calls_of(report, "fact") if c[0] == "after"]
    assert [(c[3], c[4]) for c in fact] == [([1], "1"), ([2], "2"), ([3], "6")]


def test_results_and_exceptions_are_unaltered(report: dict) -> None:
    assert report["same_results"]
    fail = [c for c in calls_of(report, "fail") if c[0] == "after"]
    assert fail[0][5] == "ValueError('number is: -170365, need >= 2')"
    # sys.monitoring leaves tracebacks exactly as they were; the 3.10/3.11 wrapper adds
    # its own frame, and only that one.
    hooked = [f for f in report["hooked_tb"] if f[0] != "wrapper"]
    assert hooked == report["plain_tb"]


def test_reset_removes_everything(report: dict) -> None:
    assert report["hooked_count"] == 11
    assert report["reset"] == [3, 11]
    assert report["silent_after_reset"]
    assert report["left"] == 0
    assert report["members_restored"]
    assert report["tool_free"]


AFTER_ONLY_DRIVER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import subject
from livescope.instrument import engine
from livescope.instrument.matcher import find_methods

class AfterOnly(engine.Listener):  # no before(): the arguments may be read at the exit
    def __init__(self):
        super().__init__()
        self.calls = []
    def after(self, a):
        self.calls.append([a.method_name, list(a.params), a.return_obj, repr(a.throw_exp)])

def rebinds(n, items=None):
    n = n * 2
    items = items or []
    return n, items

def keeps(n, *rest, k=1, **extra):
    return n + k + len(rest) + len(extra)

def raises(n):
    raise KeyError(n)

subject.rebinds, subject.keeps, subject.raises = rebinds, keeps, raises
for f in (rebinds, keeps, raises):
    f.__module__ = "subject"
listener = AfterOnly()
engine.enhance(find_methods("subject", "rebinds")
               + find_methods("subject", "keeps") + find_methods("subject", "raises"), listener)
rebinds(5)
keeps(1, 2, 3, k=4, z=5)
try:
    raises(7)
except KeyError:
    pass
engine.reset()
print(json.dumps(listener.calls, default=repr))
"""


def test_after_only_listeners_see_the_arguments_as_passed(any_python: str, tmp_path: Path) -> None:
    # A function that rebinds an argument must still report the value it was called with;
    # one that never does may have its arguments read when it returns (the cheaper path).
    (tmp_path / "subject.py").write_text(textwrap.dedent(SUBJECT))
    driver = tmp_path / "after_only.py"
    driver.write_text(AFTER_ONLY_DRIVER)
    proc = subprocess.run(
        [any_python, str(driver), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=SRC),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [
        ["rebinds", [5, None], [10, []], "None"],
        ["keeps", [1, 2, 3, 4, {"z": 5}], 8, "None"],
        ["raises", [7], None, "KeyError(7)"],
    ]


UNWRAPPED_DRIVER = """
import json, sys, types
from livescope.instrument import engine
from livescope.instrument.matcher import find_methods

subj = types.ModuleType("subj")
sys.modules["subj"] = subj
exec('''
def plain(f):  # a decorator without functools.wraps: one wrapper code for every use
    def inner(*a, **k):
        return f(*a, **k)
    return inner

def tagged(tag):
    def deco(f):
        def inner2(*a, **k):
            return f(*a, **k)
        return inner2
    return deco

class A:
    @plain
    def m(self, x):
        return x + 1
    @plain
    def n(self, x):
        return x + 2
    @tagged("t")
    @plain
    def layered(self, x):
        return x * 3

def make_handler():
    def handle(v):
        return v
    return handle

handler = make_handler()
other = make_handler()
''', subj.__dict__)

class Recorder(engine.Listener):
    def __init__(self):
        super().__init__()
        self.calls = []
    def after(self, a):
        self.calls.append([a.class_name, a.method_name, list(a.params), a.return_obj])

refs = find_methods("subj*", "m|n|layered|handler")
recorder = Recorder()
engine.enhance(refs, recorder)
a = subj.A()
results = [a.m(1), a.n(1), a.layered(2), subj.handler(5), subj.other(6)]
engine.reset()
results += [a.m(1), a.n(1), a.layered(2), subj.handler(5)]
print(json.dumps({
    "refs": {r.method_name: [r.function.__qualname__, r.extra] for r in refs},
    "calls": recorder.calls, "results": results, "left": engine.hooked_count(),
    "by_code": sys.version_info >= (3, 12),
}))
"""


def test_decorators_without_wraps_hook_the_function_itself(any_python: str, tmp_path: Path) -> None:
    report = driver_report(any_python, tmp_path, UNWRAPPED_DRIVER, timeout=60)
    shared = {"shared_wrapper": "make_handler.<locals>.handle"}
    assert report["refs"] == {
        "m": ["A.m", {}],  # found in the wrapper's closure, not the shared ``inner``
        "n": ["A.n", {}],
        "layered": ["A.layered", {}],  # through two such wrappers
        "handler": ["make_handler.<locals>.handle", shared],  # nothing else to reach
    }
    # Each method reports its own calls. The shared closure's code runs for both functions
    # made from it: hooked by code (3.12+) both report; the 3.10/3.11 wrappers replace the
    # one function object the member holds.
    shared_calls = [["subj", "handler", [5], 5]]
    if report["by_code"]:
        shared_calls.append(["subj", "handler", [6], 6])
    assert report["calls"] == [
        ["subj.A", "m", [1], 2],
        ["subj.A", "n", [1], 3],
        ["subj.A", "layered", [2], 6],
        *shared_calls,
    ]
    assert report["results"] == [2, 3, 6, 5, 6, 2, 3, 6, 5]
    assert report["left"] == 0


DROPPED_GENERATOR_DRIVER = """
import gc, json, sys, threading, time, types
from livescope.instrument import engine
from livescope.instrument.matcher import find_methods

subj = types.ModuleType("subj")
sys.modules["subj"] = subj
exec('''
def plain():
    yield 1
    yield 2

def guarded():
    try:
        yield 1
        yield 2
    finally:
        pass
''', subj.__dict__)

class Recorder(engine.Listener):
    def __init__(self):
        super().__init__()
        self.calls = []
    def after(self, a):
        self.calls.append([a.method_name, type(a.throw_exp).__name__, a.return_obj])

recorder = Recorder()
engine.enhance(find_methods("subj", "plain|guarded"), recorder)
first = next(subj.plain())  # dropped after its first value
for value in subj.guarded():
    break
kept = subj.plain()
next(kept)  # suspended, still referenced: not ended
gc.collect()
deadline = time.monotonic() + 10
while len(recorder.calls) < 2 and time.monotonic() < deadline:
    time.sleep(0.05)
time.sleep(1.2)  # a sweep or two more: the kept generator must not be ended
seen = sorted(recorder.calls)
list(kept)
engine.reset()
time.sleep(1.2)
print(json.dumps({
    "seen": seen, "last": recorder.calls[-1],
    "threads": sorted(t.name for t in threading.enumerate()),
}))
"""


def test_dropped_generators_end_with_generator_exit(any_python: str, tmp_path: Path) -> None:
    # 3.13+ closes such a generator without running it, so no monitoring event marks its end.
    report = driver_report(any_python, tmp_path, DROPPED_GENERATOR_DRIVER, timeout=60)
    assert report["seen"] == [["guarded", "GeneratorExit", None], ["plain", "GeneratorExit", None]]
    assert report["last"] == ["plain", "NoneType", None]  # the kept one, run to its end
    assert report["threads"] == ["MainThread"]  # no sweeping thread left after reset


CHURN_DRIVER = """
import json, sys, threading, types
from livescope.instrument import engine
from livescope.instrument.matcher import find_methods

subj = types.ModuleType("subj")
sys.modules["subj"] = subj
exec('''
def work(n, items=None):
    return n + 1

def gen(n):
    yield n
''', subj.__dict__)

class Before(engine.Listener):
    wants_before = True  # the start reads the arguments: the longer path

class After(engine.Listener):
    pass

sys.setswitchinterval(1e-6)  # the GIL changes hands between almost any two steps
errors, done = [], threading.Event()

def call():
    while not done.is_set():
        try:
            assert subj.work(1) == 2 and list(subj.gen(3)) == [3]
        except BaseException as exc:
            errors.append(repr(exc))
            return

callers = [threading.Thread(target=call) for _ in range(2)]
for thread in callers:
    thread.start()
refs = find_methods("subj", "work|gen")
try:
    for round in range(1500):
        listener = (Before if round % 2 else After)()
        engine.enhance(refs, listener)
        engine.remove(listener)
finally:
    done.set()
for thread in callers:
    thread.join()
print(json.dumps({"errors": errors[:3], "left": engine.hooked_count()}))
"""


def test_hooks_coming_and_going_never_raise_in_the_target(any_python: str, tmp_path: Path) -> None:
    assert driver_report(any_python, tmp_path, CHURN_DRIVER, timeout=120) == {
        "errors": [],
        "left": 0,
    }
