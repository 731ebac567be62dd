"""Calls per second of a tiny hot function under each enhance command, in one run.

One process: the agent is started in it, commands are sent over its HTTP API, and the same
function is called in a tight loop for a fixed time per phase. Run with any interpreter that
has livescope and httpx importable:  python bench/enhance_overhead.py [seconds-per-phase]
"""

from __future__ import annotations

import json
import platform
import socket
import sys
import threading
import time
import urllib.request


def hot(x):
    return x + 1


def other(x):
    """The same as hot, never hooked: what every function but the hooked one pays."""
    return x + 1


def parent(x):
    """About ten child calls: what `trace` follows."""
    return hot(hot(hot(hot(hot(x))))) + hot(hot(hot(hot(hot(x)))))


def rate(seconds: float, name: str = "hot") -> float:
    """Calls/s of the module-level function ``name``, looked up when the phase starts: on
    3.10/3.11 a hook replaces the module attribute with a wrapper."""
    function = globals()[name]
    calls = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for i in range(1000):
            function(i)
        calls += 1000
    return calls / seconds


def api(port: int, payload: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api", data=json.dumps(payload).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


class Job:
    """One command running in its own session; with ``pull``, a thread reads its results as a
    console would (the agent serves the pulls on its thread, in this process)."""

    def __init__(self, port: int, command: str, *, pull: bool = False) -> None:
        self.port = port
        session = api(port, {"action": "init_session"})
        self.sid, self.consumer = session["sessionId"], session["consumerId"]
        api(port, {"action": "async_exec", "sessionId": self.sid, "command": command})
        self.pulling = pull
        self.puller = threading.Thread(target=self._pull, daemon=True) if pull else None
        if self.puller:
            self.puller.start()
        time.sleep(0.3)  # the hooks are in, the enhancer item out

    def _pull(self) -> None:
        while self.pulling:
            api(
                self.port,
                {"action": "pull_results", "sessionId": self.sid, "consumerId": self.consumer},
            )

    def end(self) -> None:
        self.pulling = False
        if self.puller:
            self.puller.join()
        api(self.port, {"action": "interrupt_job", "sessionId": self.sid})
        api(self.port, {"action": "close_session", "sessionId": self.sid})
        time.sleep(0.2)


NEVER = "'params[0] < 0'"  # a condition never true: the hook runs, nothing is sent


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base, other_base, parent_base = rate(seconds), rate(seconds, "other"), rate(seconds, "parent")
    rows = [("baseline (no agent)", base, base)]
    import livescope

    livescope.start(port=port)
    rows.append(("agent idle", rate(seconds), base))
    job = Job(port, f"watch __main__ hot params {NEVER}")
    rows.append(("watch, condition never true", rate(seconds), base))
    rows.append(("another function, hot watched", rate(seconds, "other"), other_base))
    job.end()
    for label, command, pull in (
        ("watch -n 5, after its 5 hits", "watch __main__ hot -n 5", False),
        ("monitor -c 60", "monitor -c 60 __main__ hot", False),
        ("tt -t, recording every call", "tt -t __main__ hot -n 100000000", True),
        ("tt -t -n 5, after its 5 hits", "tt -t __main__ hot -n 5", False),
    ):
        job = Job(port, command, pull=pull)
        if "after its" in label:  # the hits, then the job's end, before the measure
            for i in range(5):
                globals()["hot"](i)
            time.sleep(0.3)
        rows.append((label, rate(seconds), base))
        job.end()
    api(port, {"action": "exec", "command": "tt --delete-all"})
    # never true: the tree is built, not sent; left running for reset to remove
    trace = Job(port, "trace __main__ parent '#cost > 100000'")
    rows.append(("trace, 10 child calls", rate(seconds, "parent"), parent_base))
    watch = Job(port, f"watch __main__ hot params {NEVER}")
    reset = api(port, {"action": "exec", "command": "reset"})["body"]["results"][0]["affect"]
    rows.append((f"after reset ({reset['methodCount']} removed)", rate(seconds), base))
    for job in (trace, watch):
        job.end()
    livescope.stop()
    rows.append(("after stop (no agent)", rate(seconds), base))  # the machine's drift
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {time.strftime('%Y-%m-%d')}"
    )
    print(f"{'phase':34} {'calls/s':>12} {'vs its baseline':>16} {'added per call':>15}")
    for label, value, reference in rows:
        added = max(0.0, 1e6 / value - 1e6 / reference)
        print(f"{label:34} {value:12,.0f} {value / reference:15.2f}x {added:12.2f} µs")


if __name__ == "__main__":
    main()
