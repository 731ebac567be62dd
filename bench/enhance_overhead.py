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
import time
import urllib.request


def hot(x):
    return x + 1


def parent(x):
    """About ten child calls: what `trace` follows."""
    return hot(hot(hot(hot(hot(x))))) + hot(hot(hot(hot(hot(x)))))


def rate(seconds: float, function=hot) -> float:
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


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rows = [("baseline (no agent)", rate(seconds))]
    parent_base = rate(seconds, parent)
    import livescope

    livescope.start(port=port)
    rows.append(("agent idle", rate(seconds)))
    phases = [
        ("watch, condition never true", "watch __main__ hot params 'params[0] < 0'"),
        ("watch -n 5 (after its 5 hits)", "watch __main__ hot -n 5"),
        ("monitor -c 60", "monitor -c 60 __main__ hot"),
        ("tt -t -n 5 (after its 5 hits)", "tt -t __main__ hot -n 5"),
    ]
    for label, command in phases:
        sid = api(port, {"action": "init_session"})["sessionId"]
        api(port, {"action": "async_exec", "sessionId": sid, "command": command})
        time.sleep(0.3)
        rows.append((label, rate(seconds)))
        api(port, {"action": "interrupt_job", "sessionId": sid})
        api(port, {"action": "close_session", "sessionId": sid})
        time.sleep(0.2)
    sid = api(port, {"action": "init_session"})["sessionId"]
    trace = "trace __main__ parent '#cost > 100000'"  # never true: the tree is built, not sent
    api(port, {"action": "async_exec", "sessionId": sid, "command": trace})
    time.sleep(0.3)
    traced = rate(seconds, parent)
    api(port, {"action": "interrupt_job", "sessionId": sid})
    api(port, {"action": "close_session", "sessionId": sid})
    api(port, {"action": "exec", "command": "reset"})
    rows.append(("after reset", rate(seconds)))
    livescope.stop()
    base = rows[0][1]
    print(
        f"Python {platform.python_version()} on {platform.machine()}, {time.strftime('%Y-%m-%d')}"
    )
    print(f"{'phase':32} {'calls/s':>12} {'vs baseline':>12}")
    for label, value in rows:
        print(f"{label:32} {value:12,.0f} {value / base:11.2f}x")
    print(f"{'parent (10 child calls)':32} {parent_base:12,.0f} {1:11.2f}x")
    print(f"{'trace parent, never-true cost':32} {traced:12,.0f} {traced / parent_base:11.2f}x")


if __name__ == "__main__":
    main()
