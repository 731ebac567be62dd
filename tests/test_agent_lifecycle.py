"""Starting and stopping the agent inside real programs: exit, stop, restart, refusal to expose.

Each target prints what it observes about itself (threads, whether the port can be bound again)
and the test reads that output, so nothing is inferred from inside the test process.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from pathlib import Path
from textwrap import dedent

import httpx
import pytest

import livescope

VERSION = b'{"action":"exec","command":"version"}'
# short-lived programs start the agent themselves (agent=False): the harness would miss the port
START = """
import os, livescope
livescope.start(port=int(os.environ["LIVESCOPE_TEST_PORT"]))
"""


def port_is_closed(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


def test_program_exits_normally_with_agent_running(make_target, any_python: str) -> None:
    started = time.monotonic()
    source = (
        START + "import sys, time\nprint('RUNNING', flush=True)\ntime.sleep(0.3)\nsys.exit(7)\n"
    )
    target = make_target(source, python=any_python, agent=False)
    assert target.wait_exit(timeout=10) == 7
    assert "RUNNING" in target.output()
    assert time.monotonic() - started < 8


def test_idle_agent_adds_one_thread(make_target, any_python: str) -> None:
    target = make_target(
        """
        import threading, json
        print("THREADS", json.dumps([t.name for t in threading.enumerate()]), flush=True)
        import time
        while True:
            time.sleep(0.5)
        """,
        python=any_python,
    )
    target.wait_for_output("THREADS")
    names = json.loads(target.output().split("THREADS", 1)[1].splitlines()[0])
    assert sorted(names) == ["MainThread", "livescope-agent"]
    assert httpx.post(target.url + "/api", content=VERSION).json()["state"] == "SUCCEEDED"


def test_stop_frees_port_and_ends_thread(make_target, any_python: str) -> None:
    target = make_target(
        START
        + dedent("""
        import json, socket, threading, time
        port = int(os.environ["LIVESCOPE_TEST_PORT"])
        started = time.monotonic()
        livescope.stop()
        print("STOP_SECONDS", round(time.monotonic() - started, 3), flush=True)
        print("THREADS", json.dumps([t.name for t in threading.enumerate()]), flush=True)
        s = socket.socket()
        s.bind(("127.0.0.1", port))
        s.close()
        print("BOUND", flush=True)
        livescope.stop()  # a second stop is harmless
        print("DONE", flush=True)
        """),
        python=any_python,
        agent=False,
    )
    target.wait_for_output("DONE")
    output = target.output()
    assert 'THREADS ["MainThread"]' in output
    assert "BOUND" in output
    assert float(output.split("STOP_SECONDS", 1)[1].split()[0]) < 2.0
    assert target.wait_exit() == 0


def test_start_twice_returns_the_running_agent(make_target) -> None:
    target = make_target(
        START
        + dedent("""
        import threading
        from livescope.agent import runtime
        first = runtime.current()
        again = livescope.start(port=int(os.environ["LIVESCOPE_TEST_PORT"]))
        other_port = livescope.start(port=0)
        print("SAME", again is first, other_port is first, flush=True)
        print("AGENT_THREADS", sum(t.name == "livescope-agent" for t in threading.enumerate()))
        """),
        agent=False,
    )
    assert target.wait_exit() == 0
    assert "SAME True True" in target.output()
    assert "AGENT_THREADS 1" in target.output()


def test_restart_after_stop(make_target) -> None:
    target = make_target(
        """
        import livescope, time
        port = int(_os.environ["LIVESCOPE_TEST_PORT"])
        for _ in range(3):
            livescope.stop()
            agent = livescope.start(port=port)
        print("RESTARTED", agent.port == port, flush=True)
        while True:
            time.sleep(0.5)
        """
    )
    target.wait_for_output("RESTARTED True")
    reply = httpx.post(target.url + "/api", content=VERSION).json()
    assert reply["body"]["results"][0]["type"] == "version"


def test_stop_command_answers_then_shuts_down(make_target) -> None:
    target = make_target(
        """
        import threading, time
        from livescope.agent import runtime
        agent = runtime.current()
        agent.wait_stopped()
        print("THREADS", [t.name for t in threading.enumerate()], flush=True)
        while True:
            time.sleep(0.5)
        """
    )
    reply = target.exec("stop")
    types = [item["type"] for item in reply["body"]["results"]]
    assert "shutdown" in types
    assert reply["body"]["results"][-1] == {"type": "status", "jobId": 1, "statusCode": 0}
    target.wait_for_output("THREADS ['MainThread']")
    assert port_is_closed(target.port)
    assert target.proc.poll() is None  # the program itself goes on


def test_stop_with_a_long_poll_in_flight(make_target) -> None:
    target = make_target(
        """
        import time, livescope
        time.sleep(1.5)
        started = time.monotonic()
        livescope.stop()
        print("STOPPED", round(time.monotonic() - started, 2), flush=True)
        """
    )
    session = target.api({"action": "init_session"})
    pull = {
        "action": "pull_results",
        "sessionId": session["sessionId"],
        "consumerId": session["consumerId"],
    }
    target.api(pull)  # the welcome items; the next pull waits
    # closed by the shutdown or answered: both fine, the point is that nothing hangs
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(target.url + "/api", content=json.dumps(pull), timeout=10)
    assert target.wait_exit(timeout=10) == 0
    assert float(target.output().split("STOPPED", 1)[1].split()[0]) < 5.0


def test_non_loopback_bind_without_password_is_refused() -> None:
    with pytest.raises(ValueError, match="without a password"):
        livescope.start(host="0.0.0.0", port=0)
    from livescope.agent import runtime

    assert runtime.current() is None


def test_non_loopback_bind_allowed_explicitly(make_target) -> None:
    target = make_target(
        "import time\nwhile True: time.sleep(0.5)\n",
        start_kwargs=', host="0.0.0.0", allow_insecure_remote=True',
    )
    assert httpx.post(target.url + "/api", content=VERSION).status_code == 200


def test_port_in_use_raises_in_the_caller(make_target) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        target = make_target(
            f"""
            import livescope, threading
            try:
                livescope.start(port={port})
            except OSError as exc:
                print("REFUSED", type(exc).__name__, flush=True)
            print("AGENTS", sum(t.name == "livescope-agent" for t in threading.enumerate()))
            """,
            agent=False,
        )
        assert target.wait_exit() == 0
    assert "REFUSED" in target.output()
    assert "AGENTS 0" in target.output()


def test_a_missing_protocol_library_is_reported_at_once(any_python: str) -> None:
    # A target whose environment lacks h11 gets the ImportError from start(), not a timeout.
    code = dedent(
        """
        import sys, time
        sys.modules["h11"] = None  # as if h11 were not installed
        import livescope
        began = time.monotonic()
        try:
            livescope.start(port=0)
        except ImportError as exc:
            print("ImportError", round(time.monotonic() - began, 1), exc)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(Path(livescope.__file__).resolve().parents[1]))
    done = subprocess.run(
        [any_python, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    words = done.stdout.split()
    assert words[:1] == ["ImportError"], done.stdout + done.stderr
    assert float(words[1]) < 5.0
