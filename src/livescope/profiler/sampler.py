"""The sampler thread and its outputs: collapsed stacks, speedscope JSON, a flame graph page.

A daemon thread wakes every ``interval`` seconds and records the stack of every other thread
(``sys._current_frames()``, outermost frame first, the thread name as the root). It never
instruments code, so stopping it leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections import Counter
from typing import Any

from livescope.model.render import frame_class_name

Stack = tuple[str, ...]

# With co_qualname (3.11+) a frame's label follows from its code object and module; before
# that a method's class is read from the frame's `self`, so each frame is labelled anew.
_LABEL_PER_CODE = sys.version_info >= (3, 11)

# The walk in C, built for the interpreter livescope was installed with (a sample holds the GIL
# while it walks, and the busy thread waits that long); the same walk in Python otherwise.
_stackwalk: Any = None
if _LABEL_PER_CODE:
    with contextlib.suppress(ImportError):
        from livescope.profiler import _stackwalk


def thread_names(frames: dict[int, Any]) -> dict[int, str]:
    """The name of every thread in ``frames`` (``thread-<id>`` for one not started by threading)."""
    names = {t.ident: t.name for t in threading.enumerate()}
    for ident in frames.keys() - names.keys():
        names[ident] = f"thread-{ident}"
    return names


def frame_label(frame: Any) -> str:
    code = frame.f_code
    return f"{frame_class_name(frame)}.{code.co_name} ({code.co_filename}:{code.co_firstlineno})"


class Sampler:
    """Samples all threads but its own until :meth:`stop`; thread-safe reads of the counts.

    Besides how many samples saw each stack (``stacks``), it keeps the wall time they stand for
    (``times``, seconds): each sample counts the real time since the previous one, not the
    interval asked for, which a thread keeping the GIL stretches (``-e 1`` gives ~150 samples/s
    against one, each standing for ~6.7 ms). The first sample counts the time since
    :meth:`start`, at most one interval and two switch intervals (the thread's start and its
    first sample may each wait that long for the GIL).
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.stacks: Counter[Stack] = Counter()
        self.times: dict[Stack, float] = {}
        self.samples = 0
        self.sampled_time = 0.0  # seconds the samples stand for (the sum of a thread's times)
        self.started_at = time.time()
        self.stopped_at: float | None = None
        self._started = time.monotonic()
        self._stopped: float | None = None
        # held until stop(): the sampler's timed wait is one acquire of it (an Event's wait runs
        # Condition.wait's Python code and allocates a lock, on every sample)
        self._halt = threading.Lock()
        self._halt.acquire()
        self._halted = False
        self._lock = threading.Lock()
        self._labels: dict[int, tuple[Any, Any, str]] = {}
        self._thread = threading.Thread(target=self._run, name="livescope-profiler", daemon=True)

    def start(self) -> None:
        self.started_at = time.time()
        self._started = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            if not self._halted:
                self._halted = True
                self._halt.release()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self.stopped_at = self.stopped_at or time.time()
        self._stopped = self._stopped or time.monotonic()

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._halted

    @property
    def elapsed(self) -> float:
        """Seconds from start to stop (or to now)."""
        return (self._stopped or time.monotonic()) - self._started

    @property
    def rate(self) -> float:
        """Samples taken per second of profiling (not the rate asked for)."""
        elapsed = self.elapsed
        return self.samples / elapsed if elapsed > 0 else 0.0

    def _run(self) -> None:
        own = threading.get_ident()
        interval = self.interval
        halt = self._halt
        first_cap = interval + 2 * sys.getswitchinterval()
        last = due = self._started
        names: dict[int, str] = {}
        names_due = 0.0
        while True:
            # Samples are due on a schedule, not one interval after the last: against a thread
            # that keeps the GIL, getting it back takes up to the switch interval (5 ms), which
            # would stretch every period (-e 10 gave 64 samples/s). A late sample restarts the
            # schedule rather than catching up in a burst (a 0 s wait would not even let the
            # other threads run in between).
            now = time.monotonic()
            due = due + interval if due + interval > now else now + interval
            if halt.acquire(timeout=min(due - now, threading.TIMEOUT_MAX)):
                return
            now = time.monotonic()
            weight = now - last if self.samples else min(now - last, first_cap)
            last = now
            frames = sys._current_frames()
            # thread names: enumerate() (a lock and a list) once a second for renamed threads,
            # and at once for a thread that has none yet
            if now >= names_due:
                names, names_due = thread_names(frames), now + 1.0
            try:
                self._record(frames, own, names, weight)
            except KeyError:
                names, names_due = thread_names(frames), now + 1.0
                self._record(frames, own, names, weight)
            del frames
            self.samples += 1
            self.sampled_time += weight

    def _record(
        self, frames: dict[int, Any], own: int, names: dict[int, str], weight: float
    ) -> None:
        """Count every thread's stack but ``own``'s, ``(name, outermost label, ..., innermost)``;
        KeyError, with nothing counted, for a thread that ``names`` lacks."""
        if _stackwalk is not None:
            # one C call that runs no Python code once the labels are known: a reader holding
            # the GIL sees a sample whole or not at all, without the lock
            _stackwalk.sample(
                frames, own, names, self._labels, frame_label, self.stacks, self.times, weight
            )
            return
        batch = []
        for ident, frame in frames.items():
            if ident == own:
                continue
            labels = []
            while frame is not None:
                labels.append(self._label(frame))
                frame = frame.f_back
            labels.append(names[ident])
            labels.reverse()
            batch.append(tuple(labels))
        times = self.times
        with self._lock:
            self.stacks.update(batch)
            for stack in batch:
                times[stack] = times.get(stack, 0.0) + weight

    def _label(self, frame: Any) -> str:
        """``frame_label``, formatted once per code object where the code alone decides it."""
        if not _LABEL_PER_CODE:
            return frame_label(frame)
        code = frame.f_code
        module = frame.f_globals.get("__name__")
        # keyed by id: hashing a code object hashes its constants, on every lookup; the code
        # object is kept in the entry so that its id cannot be reused by another one
        known = self._labels.get(id(code))
        if known is None or known[0] is not code or known[1] != module:
            known = self._labels[id(code)] = (code, module, frame_label(frame))
        return known[2]

    def snapshot(self) -> Counter[Stack]:
        with self._lock:
            return Counter(self.stacks)

    def snapshot_times(self) -> dict[Stack, float]:
        with self._lock:
            return dict(self.times)


def collapsed(stacks: Counter[Stack]) -> str:
    """Brendan Gregg's folded format: ``root;child;leaf count`` per line."""
    return "".join(f"{';'.join(s)} {n}\n" for s, n in sorted(stacks.items()))


def speedscope(times: dict[Stack, float], name: str) -> dict[str, Any]:
    """speedscope's file format: one sampled profile per thread (the stacks' root), weighted in
    milliseconds of wall time, so that each profile's length is the time it was profiled."""
    index: dict[str, int] = {}
    frames: list[dict[str, Any]] = []
    threads: dict[str, tuple[list[list[int]], list[float]]] = {}
    for stack, seconds in sorted(times.items()):
        ids = []
        for label in stack[1:]:
            if label not in index:
                index[label] = len(frames)
                frames.append({"name": label})
            ids.append(index[label])
        samples, weights = threads.setdefault(stack[0], ([], []))
        samples.append(ids)
        weights.append(seconds * 1000)
    profiles = [
        {
            "type": "sampled",
            "name": thread,
            "unit": "milliseconds",
            "startValue": 0,
            "endValue": sum(weights),
            "samples": samples,
            "weights": weights,
        }
        for thread, (samples, weights) in threads.items()
    ]
    return {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": frames},
        "profiles": profiles,
        "name": name,
        "exporter": "livescope",
    }


def tree(stacks: Counter[Stack]) -> dict[str, Any]:
    root: dict[str, Any] = {"n": "all", "v": 0, "c": {}}
    for stack, count in stacks.items():
        node = root
        node["v"] += count
        for label in stack:
            node = node["c"].setdefault(label, {"n": label, "v": 0, "c": {}})
            node["v"] += count

    def pack(node: dict[str, Any]) -> dict[str, Any]:
        kids = sorted(node["c"].values(), key=lambda k: -k["v"])
        return {"n": node["n"], "v": node["v"], "c": [pack(k) for k in kids]}

    return pack(root)


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>%(title)s</title><style>
body{font:12px sans-serif;margin:8px}#g div{position:absolute;height:17px;overflow:hidden;
white-space:nowrap;box-sizing:border-box;border:1px solid #fff;padding:0 3px;cursor:pointer}
#g{position:relative}</style></head><body><h3>%(title)s</h3><div id="info">click a frame to zoom,
click the root to reset</div><div id="g"></div><script>
const data=%(data)s;const g=document.getElementById("g");
function color(s){let h=0;for(const c of s)h=(h*31+c.charCodeAt(0))%%360;return`hsl(${h%%60},80%%,60%%)`}
function draw(focus){g.innerHTML="";const W=g.clientWidth||1000;let depth=0;
function walk(n,x,w,d){if(w<0.5)return;depth=Math.max(depth,d);const e=document.createElement("div");
e.style.left=x+"px";e.style.width=w+"px";e.style.top=(d*18)+"px";e.style.background=color(n.n);
e.textContent=n.n+" ("+n.v+")";e.title=n.n+"\\n"+n.v+" samples";e.onclick=()=>draw(d?n:data);
g.appendChild(e);let cx=x;for(const k of n.c){const kw=w*k.v/n.v;walk(k,cx,kw,d+1);cx+=kw}}
walk(focus,0,W,0);g.style.height=((depth+1)*18)+"px"}draw(data);
</script></body></html>
"""


def flame_html(stacks: Counter[Stack], title: str) -> str:
    """A self-contained page (no network) drawing the icicle graph of the samples."""
    data = json.dumps(tree(stacks)).replace("</", "<\\/")
    return _PAGE % {"title": title, "data": data}
