"""profiler against a real target process over HTTP: the hot function dominates the samples."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

BUSY = """
import threading, time

def hot_loop():
    x = 0
    while True:
        x += 1

threading.Thread(target=hot_loop, name="burner", daemon=True).start()
print("ready", flush=True)
time.sleep(600)
"""


def _first(results: list[dict], kind: str = "profiler") -> dict:
    return next(r for r in results if r["type"] == kind)


def test_profiler_start_status_stop_formats(make_target, any_python, tmp_path):
    target = make_target(BUSY, python=any_python)
    target.wait_for_output("ready")
    idle = target.results("profiler status")
    assert _first(idle)["executeResult"] == "Profiler is not active" and idle[-1]["statusCode"] == 0
    started = _first(target.results("profiler start -e 5"))
    assert started["executeResult"] == "Profiling started\n"
    assert target.results("profiler start")[-1]["message"].endswith("already started")
    target.results("sc -d __main__")  # let it run a little, through a real request
    time.sleep(0.5)
    status = _first(target.results("profiler status"))
    assert status["samples"] > 10 and "running" in status["executeResult"]
    folded = tmp_path / "p.txt"
    dumped = _first(target.results(f"profiler dump --format collapsed -f {folded}"))
    assert dumped["outputFile"] == str(folded)
    lines = folded.read_text().splitlines()
    burner = sum(int(ln.rsplit(" ", 1)[1]) for ln in lines if ln.startswith("burner;"))
    hot = sum(int(ln.rsplit(" ", 1)[1]) for ln in lines if "__main__.hot_loop" in ln)
    assert hot == burner > 10
    stopped = _first(target.results("profiler stop"))
    page = Path(stopped["outputFile"]).read_text()
    assert stopped["format"] == "html" and "__main__.hot_loop" in page and "<script>" in page
    assert target.results("profiler stop")[-1]["statusCode"] == 1


def test_profiler_duration_speedscope(make_target):
    target = make_target(BUSY)
    target.wait_for_output("ready")
    done = _first(target.results("profiler start --duration 1 --format speedscope"))
    assert done["action"] == "stop" and done["duration"] >= 1
    profile = json.loads(Path(done["outputFile"]).read_text())
    names = [f["name"] for f in profile["shared"]["frames"]]
    assert any(n.startswith("__main__.hot_loop") for n in names)
    sampled = profile["profiles"][0]
    assert sampled["type"] == "sampled" and len(sampled["samples"]) == len(sampled["weights"])
    assert target.results("profiler fly")[-1]["statusCode"] == 1
    assert target.results("profiler start --format pdf")[-1]["statusCode"] == -1


def test_profiler_speedscope_weights_are_wall_time(make_target, any_python, tmp_path):
    """At -e 1 a thread that keeps the GIL lets the sampler in only every switch interval
    (~150 samples/s, not 1000): the profile must still add up to the time profiled."""
    target = make_target(BUSY, python=any_python)
    target.wait_for_output("ready")
    began = time.monotonic()
    _first(target.results("profiler start --interval 1"))
    started = time.monotonic()
    time.sleep(2)
    path = tmp_path / "p.speedscope.json"
    stopping = time.monotonic()
    done = _first(target.results(f"profiler stop --format speedscope -f {path}"))
    ended = time.monotonic()
    profiles = {p["name"]: p for p in json.loads(path.read_text())["profiles"]}
    burner = profiles["burner"]
    total = sum(burner["weights"])
    assert burner["unit"] == "milliseconds" and burner["endValue"] == pytest.approx(total)
    # profiled for 2 s and a bit (the start and stop requests), not samples × 1 ms
    assert 0.7 * (stopping - started) * 1000 < total < 1.3 * (ended - began) * 1000
    # a sample weighs the same in every thread: the main thread, asleep, was there throughout
    assert profiles["MainThread"]["endValue"] == pytest.approx(total)
    # and the rate reported is the one got, not the one asked for
    rate = float(done["executeResult"].split("(")[1].split()[0])
    assert rate == pytest.approx(done["samples"] / (stopping - started), rel=0.3)


def test_the_c_walk_records_what_the_python_walk_records(monkeypatch):
    """The sampler's walk in C and its Python fallback count the same stacks and times."""
    from livescope.profiler import sampler

    if sampler._stackwalk is None:
        pytest.skip("the C walk is not built for this interpreter")
    release = threading.Event()
    parked = threading.Barrier(3)

    def leaf():
        parked.wait()
        release.wait()

    def middle():
        leaf()

    threads = [threading.Thread(target=middle, name=f"parked-{n}") for n in range(2)]
    for thread in threads:
        thread.start()
    try:
        parked.wait()
        frames = sys._current_frames()
        names = sampler.thread_names(frames)
        own = threading.get_ident()
        in_c, in_python = sampler.Sampler(0.01), sampler.Sampler(0.01)
        for weight in (0.01, 0.02):
            in_c._record(frames, own, names, weight)
        with monkeypatch.context() as patch:
            patch.setattr(sampler, "_stackwalk", None)
            for weight in (0.01, 0.02):
                in_python._record(frames, own, names, weight)
            with pytest.raises(KeyError):  # a thread without a name: nothing is counted
                in_python._record(frames, own, {}, 0.01)
        with pytest.raises(KeyError):
            in_c._record(frames, own, {}, 0.01)
    finally:
        release.set()
        for thread in threads:
            thread.join()
    assert in_c.stacks == in_python.stacks
    assert in_c.times.keys() == in_python.times.keys()
    assert all(in_c.times[s] == pytest.approx(in_python.times[s]) for s in in_c.times)
    parked_stacks = [s for s in in_c.stacks if s[0].startswith("parked-")]
    assert len(parked_stacks) == 2 and all(in_c.stacks[s] == 2 for s in parked_stacks)
    for stack in parked_stacks:  # thread name, ..., middle, leaf, then Event.wait's frames
        where = next(n for n, label in enumerate(stack) if ".middle (" in label)
        assert ".leaf (" in stack[where + 1] and "wait" in stack[-1]
