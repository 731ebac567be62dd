"""The basic commands: in-process against a small context, then over real HTTP in real targets."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

from livescope import __version__
from livescope.agent.options import OPTION_SPECS, default_options
from livescope.commands import basic
from livescope.commands.base import Command, CommandError
from livescope.commands.cmdline import tokenize
from livescope.commands.registry import all_commands
from livescope.commands.spec import ArgumentError, parse_args

# ------------------------------------------------------------------ in-process, fake context


@dataclass
class FakeSession:
    session_id: str = "3f1e7a0c-0000-4000-8000-000000000001"
    user_id: str | None = None
    history: list[str] = field(default_factory=list)


@dataclass
class FakeAgent:
    pid: int = os.getpid()
    start_time: float = 0.0
    version: str = __version__
    options: dict[str, Any] = field(default_factory=default_options)
    output_dir: str = "/tmp"
    stopped: bool = False

    def commands(self) -> list[type[Command]]:
        return list(all_commands().values())

    def shutdown(self) -> None:
        self.stopped = True


class FakeContext:
    job_id = 7
    interrupted = False

    def __init__(self, agent: FakeAgent | None = None, session: FakeSession | None = None):
        self.agent = agent or FakeAgent()
        self.session = session or FakeSession()
        self.items: list[dict] = []

    def emit(self, model: Any) -> None:
        model.job_id = self.job_id
        self.items.append(model.to_wire())

    def wait(self, timeout: float | None = None) -> bool:
        return True

    def finish(self) -> None:
        pass

    def on_stop(self, callback: Any) -> None:
        pass


def run(line: str, ctx: FakeContext | None = None) -> tuple[list[dict], int, str | None]:
    """Run one command line the way a job does: results, status code, status message."""
    ctx = ctx or FakeContext()
    ctx.items = []
    name, *tokens = tokenize(line)
    cls = {c.name: c for c in basic.COMMANDS}[name]
    try:
        args = parse_args(cls.options, cls.arguments, tokens)
        cls().run(ctx, args)
    except CommandError as exc:
        return ctx.items, exc.status_code, exc.message
    except ArgumentError as exc:
        return ctx.items, -10, str(exc)
    return ctx.items, 0, None


def test_version_and_echo_and_pwd() -> None:
    assert run("version")[0] == [{"type": "version", "jobId": 7, "version": __version__}]
    assert run("echo hello   'big world'")[0][0]["content"] == "hello big world"
    assert run("echo")[0][0]["content"] == ""
    assert run("pwd")[0][0] == {"type": "pwd", "jobId": 7, "workingDir": os.getcwd()}


def test_help_lists_every_registered_command_and_details_one() -> None:
    items, status, _ = run("help")
    assert status == 0
    listed = {c["name"]: c for c in items[0]["commands"]}
    assert set(listed) == set(all_commands())
    assert listed["sysprop"] == {
        "name": "sysprop",
        "summary": "Display and change the system properties",
        "options": [],
        "arguments": [],
    }
    detail = run("help cat")[0][0]["detailCommand"]
    assert detail["usage"] == "cat [--encoding <encoding>] [-M <sizeLimit>] [-h] <files...>"
    assert {
        "longName": "help",
        "shortName": "h",
        "description": "this help",
        "acceptValue": False,
    } in detail["options"]
    assert detail["arguments"] == [{"argName": "files", "required": True, "multiValued": True}]
    assert run("help -h")[0][0]["detailCommand"]["usage"] == "help [-h] [cmd]"
    _, status, message = run("help nosuch")
    assert status == -1 and "nosuch" in message


def test_session_reports_pid_and_ids() -> None:
    item = run("session")[0][0]
    assert item["javaPid"] == os.getpid()
    assert item["sessionId"] == FakeSession.session_id
    assert item["tunnelConnected"] is False


def test_sysprop_shows_sets_and_rejects_unknown_keys() -> None:
    ctx = FakeContext()
    props = run("sysprop", ctx)[0][0]["props"]
    assert props["java.class.path"] == props["python.path"] == os.pathsep.join(sys.path)
    assert props["user.dir"] == os.getcwd() and props["path.separator"] == os.pathsep
    assert list(props) == sorted(props)
    assert run("sysprop os.name", ctx)[0][0]["props"] == {"os.name": os.name}
    assert run("sysprop no.such.key", ctx)[1:] == (
        1,
        "There is no property with the key no.such.key",
    )
    items, status, _ = run("sysprop app.mode debug", ctx)
    assert status == 0
    assert items == [
        {"type": "message", "jobId": 7, "message": "Successfully changed the system property."},
        {"type": "sysprop", "jobId": 7, "props": {"app.mode": "debug"}},
    ]
    assert run("sysprop app.mode", ctx)[0][0]["props"] == {"app.mode": "debug"}
    assert "app.mode" not in run("sysprop")[0][0]["props"]  # another agent, another table


def test_sysenv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVESCOPE_T_VAR", "v1")
    monkeypatch.delenv("LIVESCOPE_T_UNSET", raising=False)
    env = run("sysenv")[0][0]["env"]
    assert env["LIVESCOPE_T_VAR"] == "v1" and list(env) == sorted(env)
    assert run("sysenv LIVESCOPE_T_VAR")[0][0]["env"] == {"LIVESCOPE_T_VAR": "v1"}
    assert run("sysenv LIVESCOPE_T_UNSET")[0][0] == {"type": "sysenv", "jobId": 7, "env": {}}


def test_cat(tmp_path: Any) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("alpha\n")
    b.write_bytes("caf\xe9".encode("latin-1"))
    items, status, _ = run(f"cat {a} {b} --encoding latin-1")
    assert status == 0
    assert [(i["file"], i["content"]) for i in items] == [(str(a), "alpha\n"), (str(b), "café")]
    assert run(f"cat {tmp_path}/missing")[1:] == (
        1,
        f"cat {tmp_path}/missing: No such file or directory",
    )
    assert run(f"cat {tmp_path}")[1:] == (1, f"cat {tmp_path}: Is a directory")
    _, status, message = run(f"cat -M 3 {a}")
    assert status == 1 and "size limit 3" in message
    assert run(f"cat --encoding nope {a}")[1] == -10
    assert run("cat /dev/null")[1:] == (1, "cat /dev/null: Not a regular file")
    assert run("cat")[1:] == (-10, "The argument 'files' is required")


def test_base64(tmp_path: Any) -> None:
    src = tmp_path / "data.bin"
    src.write_bytes(b"hello livescope")
    encoded = base64.b64encode(b"hello livescope").decode()
    assert run(f"base64 {src}")[0][0]["content"] == encoded
    assert run("base64 -i hello")[0][0]["content"] == "aGVsbG8="
    assert run("base64 -d -i aGVsbG8=")[0][0]["content"] == "hello"
    out = tmp_path / "out.txt"
    coded = tmp_path / "coded.b64"
    coded.write_text(encoded + "\n")
    items, status, _ = run(f"base64 -d {coded} -o {out}")
    assert status == 0 and items == [{"type": "base64", "jobId": 7}]
    assert out.read_bytes() == b"hello livescope"
    assert run("base64 -d -i not*base64")[1] == 1
    assert run("base64")[1] == -1
    assert run(f"base64 {tmp_path}/nope")[1] == 1


def test_history() -> None:
    ctx = FakeContext(session=FakeSession(history=["version", "sysprop", "history"]))
    assert run("history", ctx)[0][0]["history"] == ["version", "sysprop", "history"]
    assert run("history 2", ctx)[0][0]["history"] == ["sysprop", "history"]
    assert run("history -n 1", ctx)[0][0]["history"] == ["history"]
    assert run("history -c", ctx)[:2] == ([], 0) and ctx.session.history == []
    assert run("history 0", ctx)[1] == -10


def test_options_views_and_changes_with_type_check() -> None:
    ctx = FakeContext()
    listed = run("options", ctx)[0][0]["options"]
    assert [o["name"] for o in listed] == [s.name for s in OPTION_SPECS]
    assert {"name": "json-format", "type": "boolean", "value": "false", "level": 0}.items() <= next(
        o for o in listed if o["name"] == "json-format"
    ).items()
    assert run("options unsafe", ctx)[0][0]["options"][0]["value"] == "false"
    items, status, _ = run("options json-format TRUE", ctx)
    assert status == 0
    assert items[0]["changeResult"] == {
        "name": "json-format",
        "beforeValue": False,
        "afterValue": True,
    }
    assert ctx.agent.options["json-format"] is True
    _, status, message = run("options json-format maybe", ctx)
    assert status == -1 and "boolean" in message and ctx.agent.options["json-format"] is True
    assert run("options job-timeout 2h", ctx)[0][0]["changeResult"]["afterValue"] == "2h"
    _, status, message = run("options job-timeout soon", ctx)
    assert status == -1 and "duration" in message and ctx.agent.options["job-timeout"] == "2h"
    assert run("options nosuch", ctx)[1:] == (-1, "options[nosuch] not found.")


def test_reset_and_stop_before_anything_was_enhanced() -> None:
    loaded = "livescope.instrument.engine" in sys.modules
    items, status, _ = run("reset")
    assert status == 0 and items[0]["type"] == "reset"
    if not loaded:
        assert items[0]["affect"] == {"cost": 0, "classCount": 0, "methodCount": 0, "listenerId": 0}
        assert "livescope.instrument.engine" not in sys.modules
    ctx = FakeContext()
    items, status, _ = run("stop", ctx)
    assert status == 0 and ctx.agent.stopped
    assert [i["type"] for i in items] == ["message", "reset", "shutdown"]
    assert items[0]["message"] == "Resetting all enhanced classes ..."
    assert items[2]["graceful"] is True


def test_tty_only_commands() -> None:
    assert run("keymap")[1:] == (-1, "Command 'keymap' is only support tty session.")
    assert run("cls")[1:] == (-1, "Command 'cls' is only support tty session.")


# ------------------------------------------------------------- real targets over real HTTP

IDLE = "import time\nwhile True:\n    time.sleep(0.2)\n"


def status_of(results: list[dict]) -> tuple[int, str | None]:
    last = results[-1]
    assert last["type"] == "status"
    return last["statusCode"], last.get("message")


def test_basic_commands_in_a_real_target(make_target: Any, any_python: str, tmp_path: Any) -> None:
    target = make_target(IDLE, python=any_python)
    version = target.results("version")
    assert version[0]["type"] == "version" and version[0]["version"] == __version__
    assert status_of(version) == (0, None)
    session = target.results("session")[0]
    assert session["javaPid"] == target.pid and session["tunnelConnected"] is False
    props = target.results("sysprop")[0]["props"]
    assert props["python.executable"] and props["user.dir"] == str(target.workdir)
    assert status_of(target.results("sysprop no.such"))[0] == 1
    changed = target.results("sysprop app.mode debug")
    assert changed[0]["message"] == "Successfully changed the system property."
    assert target.results("sysprop app.mode")[0]["props"] == {"app.mode": "debug"}
    assert target.results("echo a   b")[0]["content"] == "a b"
    assert target.results("pwd")[0]["workingDir"] == str(target.workdir)
    f = tmp_path / "f.txt"
    f.write_text("line1\nline2\n")
    assert target.results(f"cat {f}")[0]["content"] == "line1\nline2\n"
    assert target.results(f"base64 {f}")[0]["content"] == base64.b64encode(f.read_bytes()).decode()
    assert status_of(target.results(f"cat {tmp_path}/none")) == (
        1,
        f"cat {tmp_path}/none: No such file or directory",
    )
    help_all = target.results("help")[0]["commands"]
    assert {"version", "help", "sysprop", "stop"} <= {c["name"] for c in help_all}
    assert target.results("help sysprop")[0]["detailCommand"]["name"] == "sysprop"
    dash_h = target.results("sysprop -h")[0]["detailCommand"]
    assert dash_h["usage"] == "sysprop [-h] [property-name] [property-value]"
    assert status_of(target.results("help nosuch"))[0] == -1
    assert target.results("options json-format true")[0]["changeResult"]["afterValue"] is True
    assert target.results("options json-format")[0]["options"][0]["value"] == "true"
    reset = target.results("reset")[0]
    assert reset["affect"]["classCount"] == 0 and reset["affect"]["methodCount"] == 0


def test_sysenv_and_history_in_a_real_target(make_target: Any) -> None:
    target = make_target(IDLE, env={"LIVESCOPE_T_VAR": "from-env"})
    assert target.results("sysenv LIVESCOPE_T_VAR")[0]["env"] == {"LIVESCOPE_T_VAR": "from-env"}
    assert target.results("sysenv LIVESCOPE_T_NOPE")[0]["env"] == {}
    session = target.api({"action": "init_session"})["sessionId"]
    for line in ("version", "pwd"):
        target.exec(line, sessionId=session)
    history = target.results("history", sessionId=session)[0]["history"]
    assert history == ["version", "pwd", "history"]
    assert target.results("history 1", sessionId=session)[0]["history"] == ["history 1"]
    cleared = target.results("history -c", sessionId=session)
    assert [r["type"] for r in cleared] == ["status"] and cleared[0]["statusCode"] == 0
    assert target.results("history", sessionId=session)[0]["history"] == ["history"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="the recipe needs curl")
def test_classpath_recipe_of_the_http_api_page(make_target: Any) -> None:
    """spec/002 "获取Java应用的Classpath", run verbatim: curl + tr + sed print the target's sys.path."""
    target = make_target("import sys, time\nprint('PATH=' + repr(sys.path), flush=True)\n" + IDLE)
    target.wait_for_output("PATH=")
    expected = eval(target.output().split("PATH=", 1)[1].splitlines()[0])  # noqa: S307 - our own repr
    script = f"""
json_data=$(curl -Ss -XPOST {target.url}/api -d '
{{
  "action":"exec",
  "command":"sysprop"
}}')
class_path=$(echo $json_data | tr -d '\\n' | sed 's/.*"java.class.path":"\\([^"]*\\).*/\\1/')
echo "classpath: $class_path"
"""
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "classpath: " + os.pathsep.join(expected) + "\n"


def test_stop_shuts_the_agent_down_and_leaves_the_target_running(make_target: Any) -> None:
    target = make_target(IDLE)
    results = target.results("stop")
    assert [r["type"] for r in results] == ["message", "reset", "shutdown", "status"]
    assert results[2]["graceful"] is True and status_of(results) == (0, None)
    import socket
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", target.port), timeout=0.2).close()
        except OSError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the agent still listens after stop")
    assert target.proc.poll() is None


HOOKABLE = """\
import pathlib, sys, time
pathlib.Path(sys.path[0], "gamemod.py").write_text(
    "class Game:\\n    def prime(self, n):\\n        return n\\n"
)
import gamemod
game = gamemod.Game()
while True:
    game.prime(3)
    time.sleep(0.05)
"""


def test_reset_removes_what_a_watch_enhanced(make_target: Any) -> None:
    target = make_target(HOOKABLE)
    if "watch" not in {c["name"] for c in target.results("help")[0]["commands"]}:
        pytest.skip("watch is not available")
    session = target.api({"action": "init_session"})
    sid, cid = session["sessionId"], session["consumerId"]
    assert (
        target.api(
            {"action": "async_exec", "command": "watch gamemod.Game prime", "sessionId": sid}
        )["state"]
        == "SCHEDULED"
    )
    seen: list[dict] = []
    for _ in range(20):
        seen += target.api({"action": "pull_results", "sessionId": sid, "consumerId": cid})["body"][
            "results"
        ]
        if any(r["type"] == "watch" for r in seen):
            break
    enhancer = next(r for r in seen if r["type"] == "enhancer")
    assert enhancer["success"] is True
    reset = target.results("reset")[0]["affect"]
    assert (reset["classCount"], reset["methodCount"]) == (1, 1)
    again = target.results("reset")[0]["affect"]
    assert (again["classCount"], again["methodCount"]) == (0, 0)
