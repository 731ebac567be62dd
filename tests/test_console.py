"""The console client: text views of result models, pipes, ``livescope exec``, the live console."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time

import pytest

from livescope.commands.pipes import PipeError, Pipeline
from livescope.console.output import Printer
from livescope.console.views import VIEWS
from support.targets import free_port

LIVESCOPE = [sys.executable, "-m", "livescope"]
IDLE = "import time\nwhile True:\n    time.sleep(0.5)\n"


def text(*items: dict) -> str:
    return "\n".join(Printer(file=io.StringIO(), color=False).text_lines(items))


# -- views: result dicts as the API sends them (spec/003, reference §7) ------------------------

WATCH = {
    "sizeLimit": 10485760,
    "expand": 1,
    "jobId": 3,
    "type": "watch",
    "cost": 0.071499,
    "ts": 1596703453237,
    "value": [[-170365], None, {"message": "number is: -170365, need >= 2"}],
}
TRACE = {
    "type": "trace",
    "jobId": 4,
    "nodeCount": 3,
    "root": {
        "type": "thread",
        "threadName": "MainThread",
        "threadId": 1,
        "daemon": False,
        "priority": 5,
        "classloader": "",
        "timestamp": "2026-08-14 10:00:01.123",
        "children": [
            {
                "type": "method",
                "className": "demo.MathGame",
                "methodName": "run",
                "lineNumber": 22,
                "cost": 1500000,
                "minCost": 1500000,
                "maxCost": 1500000,
                "totalCost": 1500000,
                "times": 1,
                "invoking": False,
                "children": [
                    {
                        "type": "method",
                        "className": "demo.MathGame",
                        "methodName": "primeFactors",
                        "lineNumber": 25,
                        "cost": 20000,
                        "minCost": 10000,
                        "maxCost": 30000,
                        "totalCost": 40000,
                        "times": 2,
                        "invoking": True,
                    },
                    {
                        "type": "throw",
                        "exception": "ValueError",
                        "message": "number is: -5, need >= 2",
                        "lineNumber": 37,
                    },
                ],
            }
        ],
    },
}


def test_session_items():
    welcome = {
        "tutorials": "https://arthas.aliyun.com/doc/arthas-tutorials.html",
        "time": "2020-08-06 15:56:43",
        "type": "welcome",
        "jobId": 0,
        "pid": "7909",
        "wiki": "https://arthas.aliyun.com/doc",
        "version": "3.3.7",
    }
    out = text(
        {"inputStatus": "DISABLED", "jobId": 0, "type": "input_status"},
        {"type": "message", "jobId": 0, "message": "Welcome to arthas!"},
        welcome,
        {"type": "command", "jobId": 3, "state": "SCHEDULED", "command": "watch x y"},
    )
    assert "Welcome to arthas!" in out
    assert "7909" in out and "3.3.7" in out
    assert "DISABLED" not in out and "SCHEDULED" not in out


def test_status_shows_only_failures():
    assert text({"jobId": 5, "statusCode": 0, "type": "status"}) == ""
    failed = {
        "jobId": 6,
        "message": "The argument 'class-pattern' is required",
        "statusCode": -10,
        "type": "status",
    }
    assert text(failed) == "The argument 'class-pattern' is required"
    assert "status 1" in text({"jobId": 6, "statusCode": 1, "type": "status"})


def test_enhancer_watch_and_trace():
    enhancer = {
        "success": True,
        "jobId": 3,
        "effect": {"listenerId": 3, "cost": 24, "classCount": 1, "methodCount": 1},
        "type": "enhancer",
    }
    assert "Affect(class count: 1 , method count: 1) cost in 24 ms, listenerId: 3" in text(enhancer)
    out = text(WATCH)
    assert "[cost=0.071499ms] result=" in out
    assert "-170365" in out and "need >= 2" in out
    rendered = {**WATCH, "value": "@ArrayList[\n    @Integer[1],\n]"}
    assert "@Integer[1]" in text(rendered)  # pre-rendered object text is printed as it is
    out = text(TRACE).splitlines()
    assert out[0].startswith("ts=2026-08-14 10:00:01.123;thread_name=MainThread;id=1;")
    assert "[1.5ms] demo.MathGame:run() #22" in out[1]
    assert "[min=0.01ms,max=0.03ms,total=0.04ms,count=2] demo.MathGame:primeFactors() #25" in out[2]
    assert "throw:ValueError #37 [number is: -5, need >= 2]" in out[3]
    assert out[1].index("demo") < out[2].index("demo")  # children are indented under parents


def test_tables_of_system_commands():
    props = {
        "type": "sysprop",
        "jobId": 1,
        "props": {"python.version": "3.12.1", "os.name": "posix"},
    }
    assert "python.version  3.12.1" in text(props)
    thread = {
        "type": "thread",
        "jobId": 2,
        "all": False,
        "threadStateCount": {"RUNNABLE": 1, "WAITING": 1},
        "threadStats": [
            {"id": 1, "name": "MainThread", "state": "RUNNABLE", "cpu": 1.5, "daemon": False},
            {"id": 2, "name": "livescope-agent", "state": "WAITING", "cpu": 0.0, "daemon": True},
        ],
    }
    out = text(thread)
    assert "Threads Total: 2, RUNNABLE: 1, WAITING: 1" in out
    assert "MainThread" in out and "livescope-agent" in out and "STATE" in out
    jvm = {
        "type": "jvm",
        "jobId": 3,
        "jvmInfo": {
            "RUNTIME": [{"name": "PID", "value": 42}],
            "THREAD": [{"name": "COUNT", "value": 3}],
        },
    }
    out = text(jvm)
    assert "RUNTIME" in out and "PID" in out and "THREAD" in out
    memory = {
        "type": "memory",
        "jobId": 4,
        "memoryInfo": {
            "heap": [{"type": "heap", "name": "heap", "used": 10, "total": 20, "max": -1}]
        },
    }
    assert "USED" in text(memory) and "heap" in text(memory)


def test_code_and_object_views():
    assert text({"type": "sc", "jobId": 1, "classNames": ["demo.MathGame", "demo.Other"]}) == (
        "demo.MathGame\ndemo.Other"
    )
    jad = {
        "type": "jad",
        "jobId": 2,
        "source": "class MathGame:\n    pass\n",
        "location": "/x/demo.py",
    }
    out = text(jad)
    assert "class MathGame:" in out and "Location: /x/demo.py" in out
    tt = {
        "type": "tt",
        "jobId": 3,
        "first": True,
        "timeFragmentList": [
            {
                "index": 1000,
                "timestamp": "2026-08-14 10:00:01",
                "cost": 0.5,
                "return": True,
                "throw": False,
                "className": "demo.MathGame",
                "methodName": "primeFactors",
            }
        ],
    }
    assert "INDEX" in text(tt) and "1000" in text(tt) and "primeFactors" in text(tt)
    assert text({"type": "ognl", "jobId": 4, "value": "@Integer[3]"}) == "@Integer[3]"
    monitor = {
        "type": "monitor",
        "jobId": 5,
        "monitorDataList": [
            {
                "className": "demo.MathGame",
                "methodName": "primeFactors",
                "total": 4,
                "success": 3,
                "failed": 1,
                "cost": 2.0,
                "timestamp": "2026-08-14 10:00:01",
            }
        ],
    }
    assert "25.00%" in text(monitor) and "0.50" in text(monitor)


def test_help_views():
    listing = {
        "type": "help",
        "jobId": 1,
        "commands": [
            {"name": "version", "summary": "Display version", "options": [], "arguments": []}
        ],
    }
    assert "version" in text(listing) and "Display version" in text(listing)
    detail = {
        "type": "help",
        "jobId": 2,
        "detailCommand": {
            "name": "sysprop",
            "summary": "Display and change the system properties",
            "usage": "sysprop [property-name] [property-value]",
            "options": [{"longName": "help", "shortName": "h", "description": "this help"}],
            "arguments": [],
        },
    }
    out = text(detail)
    assert "USAGE:" in out and "sysprop [property-name]" in out and "-h, --help" in out


def test_unknown_types_fall_back_to_generic_table():
    item = {
        "type": "brand_new",
        "jobId": 9,
        "count": 3,
        "rows": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}],
        "nested": {"k": {"deep": [1, 2]}},
    }
    out = text(item)
    assert "count" in out and "3" in out
    assert "A  B" in out and "2  y" in out
    assert '"deep": [1, 2]' in out
    assert "brand_new" not in out and "jobId" not in out


@pytest.mark.parametrize("kind", sorted(VIEWS))
def test_every_view_survives_missing_fields(kind):
    text({"type": kind, "jobId": 1})


# -- pipes -------------------------------------------------------------------------------------

LINES = ["alpha 1", "Beta 2", "gamma 3", "beta 4"]


def test_grep_options():
    assert Pipeline([["grep", "beta"]])(LINES) == ["beta 4"]
    assert Pipeline([["grep", "-i", "beta"]])(LINES) == ["Beta 2", "beta 4"]
    assert Pipeline([["grep", "-v", "-i", "beta"]])(LINES) == ["alpha 1", "gamma 3"]
    assert Pipeline([["grep", "-n", "a 3"]])(LINES) == ["3:gamma 3"]
    assert Pipeline([["grep", "-e", r"\d$", "-m", "2"]])(LINES) == ["alpha 1", "Beta 2"]
    assert Pipeline([["grep", "a"]]).streaming


def test_head_tail_wc_chain():
    assert Pipeline([["head", "-n", "2"]])(LINES) == ["alpha 1", "Beta 2"]
    assert Pipeline([["tail", "-1"]])(LINES) == ["beta 4"]
    assert Pipeline([["grep", "-i", "beta"], ["wc", "-l"]])(LINES) == ["2"]
    assert not Pipeline([["grep", "a"], ["head", "1"]]).streaming


def test_bad_pipes_are_reported():
    for pipes in ([["sort"]], [["grep"]], [["grep", "("]], [[]]):
        with pytest.raises(PipeError):
            Pipeline(pipes)


# -- livescope exec against real targets -------------------------------------------------------


def run_exec(*words: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*LIVESCOPE, "exec", *words], capture_output=True, text=True, timeout=timeout
    )


def test_exec_prints_text_and_exit_codes(make_target):
    target = make_target(IDLE)
    done = run_exec(target.url, "version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0.1.0"
    done = run_exec(target.url, "sysprop", "|", "grep", "python.version")
    assert done.returncode == 0 and done.stdout.startswith("python.version"), done
    assert len(done.stdout.splitlines()) == 1
    missing = run_exec(target.url, "sysprop", "no.such.property")
    assert missing.returncode == 1
    assert "There is no property with the key no.such.property" in missing.stdout
    bad = run_exec(target.url, "sysprop", "--no-such-option")
    assert bad.returncode == 1  # status -10 (argument error) → 1
    unknown = run_exec(target.url, "nosuchcommand")
    assert unknown.returncode == 2
    assert "nosuchcommand: command not found" in unknown.stderr


def test_exec_json_and_quoting(make_target):
    target = make_target(IDLE)
    done = run_exec(target.url, "echo", "hello world", "--json")
    assert done.returncode == 0, done.stderr
    envelope = json.loads(done.stdout)
    assert envelope["state"] == "SUCCEEDED"
    results = envelope["body"]["results"]
    assert results[0]["type"] == "echo" and results[0]["content"] == "hello world"
    assert results[-1] == {"type": "status", "jobId": results[-1]["jobId"], "statusCode": 0}
    missing = run_exec(target.url, "sysprop", "no.such.property", "--json")
    assert missing.returncode == 1  # the exit code comes from the status item in JSON mode too
    assert json.loads(missing.stdout)["body"]["results"][-1]["statusCode"] == 1
    unknown = run_exec(target.url, "nosuchcommand", "--json")
    assert unknown.returncode == 2 and json.loads(unknown.stdout)["state"] == "FAILED"


def test_exec_password(make_target):
    target = make_target(IDLE, start_kwargs=", password='s3cret', loopback_exempt=False")
    assert run_exec(target.url, "version").returncode == 2
    done = run_exec(target.url, "version", "--password", "s3cret")
    assert done.returncode == 0 and done.stdout.strip() == "0.1.0", done


def test_exec_without_agent():
    url = f"http://127.0.0.1:{free_port()}"
    done = run_exec(url, "version")
    assert done.returncode == 2
    assert f"no agent listening at {url}" in done.stderr
    assert "livescope attach PID" in done.stderr


# -- the live console in a real pseudo-terminal -------------------------------------------------

TICKER = """\
import threading, time
from livescope.commands.base import Command
from livescope.commands.registry import register
from livescope.model.common import MessageModel

@register
class Tick(Command):
    name = "tick"
    summary = "print tick every 100 ms until interrupted"
    def run(self, ctx, args):
        n = 0
        while not ctx.wait(0.1):
            n += 1
            ctx.emit(MessageModel(message=f"tick {n}"))

while True:
    time.sleep(0.5)
"""


def test_console_runs_commands_interrupts_and_leaves(make_target, pty_console, tmp_path):
    target = make_target(TICKER)
    console = pty_console("console", target.url)
    console.read_until(f"[livescope@{target.pid}]$")
    console.type_line("version", "0.1.0")
    console.type_line("sysprop | grep python.version", "python.version")
    mark = len(console.seen)
    console.send("tick\r")
    console.read_until("tick 3")
    console.send("\x03")  # Ctrl-C interrupts the running job and gives the prompt back
    mark = len(console.seen)
    console.send("echo after-interrupt\r")
    deadline = time.monotonic() + 15
    while console.seen[mark:].count("after-interrupt") < 2:  # the typed line, then its output
        assert time.monotonic() < deadline, console.seen[mark:]
        console.drain(0.2)
    ticks = console.seen[mark:].count("tick ")
    console.drain(0.5)
    assert console.seen[mark:].count("tick ") == ticks  # the job really stopped
    console.send("\x04")  # Ctrl-D leaves
    assert console.proc.wait(10) == 0
    history = (tmp_path / ".livescope_history").read_text()
    assert "+version" in history and "+tick" in history
    sessions = target.exec("session")["body"]["results"]
    assert sessions[-1]["statusCode"] == 0  # the agent is still fine after the console left


def test_console_completes_command_names(make_target, pty_console):
    target = make_target(IDLE)
    console = pty_console("console", target.url)
    console.read_until("]$")
    console.send("vers\t")
    console.read_until("version")
    console.send("\r")
    console.read_until("0.1.0")
    console.send("exit\r")
    assert console.proc.wait(10) == 0


def test_console_without_agent(pty_console):
    url = f"http://127.0.0.1:{free_port()}"
    console = pty_console("console", url)
    console.read_until(f"no agent listening at {url}")
    assert console.proc.wait(10) == 2


def test_demo_opens_console_and_stops_demo_on_exit(pty_console):
    port = free_port()
    console = pty_console("demo", "--port", str(port))
    console.read_until("math-game is running as pid")
    console.read_until("]$")
    console.type_line("version", "0.1.0")
    console.send("\x04")
    assert console.proc.wait(15) == 0
    import socket

    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()


def test_completion_learns_options_from_help(make_target) -> None:
    from livescope.commands.completion import complete
    from livescope.console.client import ApiClient
    from livescope.console.completion import HelpCatalog

    target = make_target(IDLE)
    client = ApiClient(target.url)
    try:
        catalog = HelpCatalog(client)
        assert complete(catalog, "wat") == ("wat", ["watch"])
        # help lists names only; the options come from `help watch` the first time
        assert complete(catalog, "watch --exp") == ("--exp", ["--expand"])
        assert "-x" in complete(catalog, "watch demo.X y -")[1]
        assert complete(catalog, "nosuch -") == ("-", [])
    finally:
        client.close()


def test_console_reconnects_after_the_agent_restarts(make_target, pty_console):
    first = make_target(IDLE)
    console = pty_console("console", first.url)
    console.read_until(f"[livescope@{first.pid}]$")
    port = first.port
    first.close()  # the program (and its agent) goes away
    console.read_until("reconnecting")
    second = make_target(IDLE, port=port)  # and comes back on the same port
    console.read_until("reconnected: a new session")
    console.type_line("session", str(second.pid))
    console.read_until(f"[livescope@{second.pid}]$")
    mark = len(console.seen)
    console.send("version\r")
    console.read_until("0.1.0")
    assert "session not found" not in console.seen[mark:]
    console.send("\x04")
    assert console.proc.wait(10) == 0
