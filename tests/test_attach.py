"""``livescope attach``: inject the agent into real running programs that never imported it.

Targets are plain scripts run without livescope on their path; each installs a SIGUSR1 handler
that exits with code 7, so a test can check that the program carries on after the agent is
stopped and exits with its own code, and a SIGUSR2 handler that calls ``tick``, so a ``watch``
sees calls even in a program whose main thread is blocked.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from livescope import __version__ as livescope_version
from livescope.attach import bootstrap, inject, procinfo, shim
from livescope.attach.stop_cli import stop_agent
from support.pythons import available_pythons

PYTHONS = available_pythons()
# The target is 2 s; bench/attach_cycles.py records the real figures (tens of ms).
# Here only a generous bound, since CI machines are shared.
ATTACH_LIMIT = 5.0

PRELUDE = """\
import os, signal, socket, sys, threading, time
signal.signal(signal.SIGUSR1, lambda *_: sys.exit(7))
def tick(n):
    return n + 1
signal.signal(signal.SIGUSR2, lambda *_: tick(41))
print("ready", flush=True)
"""

WORKLOADS = {
    "busy": "while True:\n    sum(range(100))\n",
    "sleep": "time.sleep(120)\n",
    "recv": """\
        a, b = socket.socketpair()
        a.recv(1)
    """,
    "join": """\
        t = threading.Thread(target=time.sleep, args=(120,), daemon=True)
        t.start()
        t.join()
    """,
    "asyncio": """\
        import asyncio
        async def main():
            server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
            async with server:
                await server.serve_forever()
        asyncio.run(main())
    """,
    "allocating": """\
        def churn():  # large buffers: malloc maps and unmaps them, often inside mmap/munmap
            while True:
                bytearray(1 << 20)
        for _ in range(2):
            threading.Thread(target=churn, daemon=True).start()
        while True:
            time.sleep(0.01)
    """,
    "threads": """\
        def spin():
            while True:
                sum(range(100))
        for _ in range(2):
            threading.Thread(target=spin, daemon=True).start()
        for _ in range(3):
            threading.Thread(target=time.sleep, args=(120,), daemon=True).start()
        while True:
            time.sleep(0.01)
    """,
}


class Program:
    """A plain Python program (no livescope on its path), killed by pid at teardown. With
    ``root``, ``python`` is a command that runs Python in that root (a chroot): the program is
    written there and named as the process inside sees it."""

    def __init__(self, body: str, python: str, root: Path | None = None) -> None:
        where = root / "tmp" if root else None
        self.dir = Path(tempfile.mkdtemp(prefix="livescope-attach-test-", dir=where))
        script = self.dir / "main.py"
        script.write_text(PRELUDE + textwrap.dedent(body))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        self.output = self.dir / "out.txt"
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                [python, "-u", "/" + str(script.relative_to(root)) if root else str(script)],
                cwd=self.dir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.proc.pid
        deadline = time.monotonic() + 15
        while "ready" not in self.output.read_text():
            assert self.proc.poll() is None, self.output.read_text()
            assert time.monotonic() < deadline, "target never got ready"
            time.sleep(0.02)
        self._settle(deadline)

    def _settle(self, deadline: float) -> None:
        """Wait until the workload has started its threads (their count is steady for 0.3 s),
        so a test counting threads before and after an attach compares like with like."""
        count, steady_since = -1, time.monotonic()
        while time.monotonic() - steady_since < 0.3:
            assert time.monotonic() < deadline, "target never settled"
            now = len(os.listdir(f"/proc/{self.pid}/task"))
            if now != count:
                count, steady_since = now, time.monotonic()
            time.sleep(0.02)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


@pytest.fixture(scope="session", autouse=True)
def built_shim() -> None:
    shim.ensure_shim(bootstrap.agent_path())  # built once, not inside a timed attach


@pytest.fixture
def program() -> Iterator[Callable[..., Program]]:
    started: list[Program] = []

    def factory(body: str, python: str = sys.executable, root: Path | None = None) -> Program:
        started.append(Program(body, python, root))
        return started[-1]

    yield factory
    for prog in started:
        prog.close()


def version_over_http(url: str) -> str:
    reply = httpx.post(url + "/api", json={"action": "exec", "command": "version"}, timeout=10)
    results = reply.json()["body"]["results"]
    return next(r["version"] for r in results if r["type"] == "version")


def watch_over_http(url: str, pid: int) -> dict:
    """``watch __main__ tick`` while the program is made to call ``tick(41)``: the watched value."""
    box: dict[str, httpx.Response] = {}
    command = "watch __main__ tick {params,returnObj} -n 1"
    body = {"action": "exec", "command": command, "execTimeout": 10000}
    waiter = threading.Thread(
        target=lambda: box.update(reply=httpx.post(url + "/api", json=body, timeout=20))
    )
    waiter.start()
    while waiter.is_alive():
        os.kill(pid, signal.SIGUSR2)
        waiter.join(0.05)
    results = box["reply"].json()["body"]["results"]
    assert results[0]["type"] == "enhancer" and results[0]["success"], results
    assert results[-1] == {"jobId": results[0]["jobId"], "statusCode": 0, "type": "status"}
    return next(r["value"] for r in results if r["type"] == "watch")


def attach_timed(pid: int) -> inject.AgentAddress:
    began = time.monotonic()
    address = inject.attach(pid, port=None, timeout=10)
    elapsed = time.monotonic() - began
    assert address.started
    assert elapsed < ATTACH_LIMIT, f"attach took {elapsed:.2f}s"
    return address


def attach_use_stop(prog: Program) -> None:
    """Attach, run a command over HTTP, stop: the agent's port and thread are gone."""
    threads_before = len(os.listdir(f"/proc/{prog.pid}/task"))
    address = attach_timed(prog.pid)
    assert version_over_http(address.url)
    assert watch_over_http(address.url, prog.pid) == [[41], 42]
    assert inject.attach(prog.pid).port == address.port  # second attach finds it
    stop_agent(prog.pid)
    assert address.port not in {p for _, p in procinfo.listening_ports(prog.pid)}
    deadline = time.monotonic() + 15  # generous: CI machines are shared
    while len(os.listdir(f"/proc/{prog.pid}/task")) > threads_before:
        assert time.monotonic() < deadline, "agent thread still alive after stop"
        time.sleep(0.02)


def finish(prog: Program) -> None:
    """The program carries on after detaching and exits with its own code."""
    assert prog.proc.poll() is None, prog.output.read_text()
    os.kill(prog.pid, signal.SIGUSR1)
    assert prog.proc.wait(timeout=10) == 7, prog.output.read_text()


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_attach_each_workload(
    program: Callable[..., Program], workload: str, any_python: str
) -> None:
    prog = program(WORKLOADS[workload], any_python)
    attach_use_stop(prog)
    # the safe path: the bootstrap library's thread ran the boot file, not a hijacked thread
    assert shim.SHIM_NAME in Path(f"/proc/{prog.pid}/maps").read_text()
    attach_use_stop(prog)  # re-attach after a stop works
    finish(prog)


def test_attach_writes_nothing_into_the_targets_site_packages(
    program: Callable[..., Program], any_python: str
) -> None:
    found = subprocess.run(
        [any_python, "-c", "import site; print('\\n'.join(site.getsitepackages()))"],
        capture_output=True,
        text=True,
        check=True,
    )
    roots = [Path(p) for p in found.stdout.split() if Path(p).is_dir()]

    def snapshot() -> dict[str, float]:
        return {str(f): f.stat().st_mtime for root in roots for f in [root, *root.rglob("*")]}

    before = snapshot()
    prog = program(WORKLOADS["sleep"], any_python)
    attach_use_stop(prog)
    finish(prog)
    assert snapshot() == before


def test_attached_program_exits_at_once_when_main_returns(
    program: Callable[..., Program], tmp_path: Path, any_python: str
) -> None:
    flag = tmp_path / "go"
    prog = program(f"while not os.path.exists({str(flag)!r}):\n    time.sleep(0.02)\n", any_python)
    address = attach_timed(prog.pid)
    assert version_over_http(address.url)
    flag.touch()
    began = time.monotonic()
    assert prog.proc.wait(timeout=5) == 0
    assert time.monotonic() - began < 1.0


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "livescope", *args], capture_output=True, text=True, timeout=60
    )


def test_cli_attach_ps_stop(program: Callable[..., Program]) -> None:
    prog = program(WORKLOADS["busy"])
    attached = run_cli("attach", str(prog.pid), "--no-console")
    assert attached.returncode == 0, attached.stderr
    url = attached.stdout.strip()
    assert version_over_http(url)
    listing = run_cli("ps").stdout
    line = next(line for line in listing.splitlines() if line.split()[0] == str(prog.pid))
    assert url in line and "main.py" in line
    stopped = run_cli("stop", str(prog.pid))
    assert stopped.returncode == 0, stopped.stderr
    assert run_cli("stop", str(prog.pid)).returncode == 1
    finish(prog)


def test_cli_attach_on_a_chosen_port_with_a_password(
    program: Callable[..., Program], any_python: str
) -> None:
    prog = program(WORKLOADS["sleep"], any_python)
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    chosen = port.getsockname()[1]
    port.close()
    attached = run_cli(
        "attach", str(prog.pid), "--port", str(chosen), "--password", "s3cret", "--no-console"
    )
    assert attached.returncode == 0, attached.stderr
    assert attached.stdout.strip() == f"http://127.0.0.1:{chosen}"
    assert ("127.0.0.1", chosen) in procinfo.listening_ports(prog.pid)
    version = subprocess.run(
        [any_python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    listing = run_cli("ps").stdout
    line = next(line for line in listing.splitlines() if line.split()[0] == str(prog.pid))
    assert version in line.split() and f":{chosen}" in line
    assert run_cli("stop", str(prog.pid), "--password", "s3cret").returncode == 0
    finish(prog)


def test_refuses_missing_and_non_python_processes() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    result = run_cli("attach", str(gone.pid), "--no-console")
    assert result.returncode == 1 and "no such process" in result.stderr
    other = subprocess.Popen(["sleep", "100"], start_new_session=True)
    try:
        result = run_cli("attach", str(other.pid), "--no-console")
        assert result.returncode == 1 and "not a CPython process" in result.stderr
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


OLD_PYTHONS = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.[6-9].*/bin/python3")))


@pytest.mark.skipif(not OLD_PYTHONS, reason="no CPython older than 3.10 on this machine")
def test_refuses_unsupported_version(program: Callable[..., Program]) -> None:
    prog = program("time.sleep(120)\n", OLD_PYTHONS[-1])
    result = run_cli("attach", str(prog.pid), "--no-console")
    assert result.returncode == 1 and "livescope supports 3.10 to 3.14" in result.stderr
    finish(prog)


def test_timeout_explains_threads_and_leaves_target_alone(program: Callable[..., Program]) -> None:
    # A regular expression with catastrophic backtracking holds the GIL for minutes.
    prog = program("import re\nre.match(r'(a*)*b', 'a' * 40)\n")
    began = time.monotonic()
    with pytest.raises(inject.AttachError) as caught:
        inject.attach(prog.pid, timeout=1.5)
    assert time.monotonic() - began < 5
    message = str(caught.value)
    assert "did not run the bootstrap" in message and "--unsafe" in message
    assert f"thread {prog.pid}" in message
    assert prog.proc.poll() is None
    assert not (bootstrap.agent_path() / f"boot-{prog.pid}.py").exists()  # late run: no-op


def test_unsafe_attach_runs_on_the_main_thread(program: Callable[..., Program]) -> None:
    prog = program(WORKLOADS["busy"])
    address = inject.attach(prog.pid, timeout=10, unsafe=True)
    assert version_over_http(address.url)
    assert watch_over_http(address.url, prog.pid) == [[41], 42]
    stop_agent(prog.pid)
    finish(prog)


def test_unsafe_attach_to_a_target_holding_the_gil_shows_where_it_stands(
    program: Callable[..., Program], any_python: str
) -> None:
    # A C call made through ctypes.PyDLL keeps the GIL: no thread of the program runs Python
    # until it returns, so the agent thread can listen but not answer.
    prog = program(
        """\
        import ctypes
        def hold_the_gil():
            ctypes.PyDLL(None).sleep(4)
        hold_the_gil()
        print("released", flush=True)
        time.sleep(120)
        """,
        any_python,
    )
    result = run_cli("attach", str(prog.pid), "--unsafe", "--no-console", "--timeout", "2")
    assert result.returncode == 1, result.stderr
    assert "cannot answer: a thread holds the GIL" in result.stderr
    assert f"livescope stop {prog.pid}" in result.stderr
    assert f"thread {prog.pid} (MainThread):" in result.stderr
    assert "in hold_the_gil\n    ctypes.PyDLL(None).sleep(4)" in result.stderr
    assert "boot-" not in result.stderr  # the bootstrap's own frames are left out
    deadline = time.monotonic() + 15
    while "released" not in prog.output.read_text():
        assert time.monotonic() < deadline, prog.output.read_text()
        time.sleep(0.05)
    address = inject.running_agent(prog.pid)
    assert address is not None and version_over_http(address.url)  # it answers now
    assert watch_over_http(address.url, prog.pid) == [[41], 42]
    assert run_cli("stop", str(prog.pid)).returncode == 0
    finish(prog)


def test_cli_reports_a_wrong_pid_argument() -> None:
    result = run_cli("attach", "not-a-pid", "--no-console")
    assert result.returncode == 2 and "invalid" in result.stderr


def test_a_port_taken_after_it_was_chosen_falls_back_to_a_free_one(
    program: Callable[..., Program], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two attaches at once both see 8563 free; the second to bind must not fail.
    prog = program(WORKLOADS["sleep"])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy_port = taken.getsockname()[1]
        monkeypatch.setattr(inject, "choose_port", lambda host, wanted: busy_port)
        address = inject.attach(prog.pid, timeout=10)
    assert address.port != busy_port
    assert version_over_http(address.url)
    stop_agent(prog.pid)
    finish(prog)


def test_ps_and_stop_find_an_agent_the_program_started_itself(make_target) -> None:
    target = make_target("import time\nwhile True:\n    time.sleep(0.1)\n")
    url = f"http://127.0.0.1:{target.port}"
    line = next(
        line for line in run_cli("ps").stdout.splitlines() if line.split()[0] == str(target.pid)
    )
    assert url in line
    marker = (
        Path(tempfile.gettempdir()) / f"livescope-agents-{os.geteuid()}/agent-{target.pid}.json"
    )
    assert marker.exists()
    assert inject.attach(target.pid).port == target.port  # attach connects to it
    stopped = run_cli("stop", str(target.pid))
    assert stopped.returncode == 0, stopped.stderr
    deadline = time.monotonic() + 10
    while marker.exists():
        assert time.monotonic() < deadline, "the agent's marker is still there after stop"
        time.sleep(0.05)
    line = next(
        line for line in run_cli("ps").stdout.splitlines() if line.split()[0] == str(target.pid)
    )
    assert line.split()[3] == "-"
    assert target.proc.poll() is None  # the program carries on


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.exists("/usr/bin/python3"),
    reason="needs root, setpriv and a system python3 to run a target as another user",
)
def test_permission_denied_says_why_and_leaves_the_target_alone() -> None:
    # The target runs as nobody; the attach runs as root without CAP_SYS_PTRACE, like a user
    # attaching to another user's process.
    code = "import time\nprint('ready', flush=True)\ntime.sleep(60)\n"
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    target = subprocess.Popen(
        [*nobody, "/usr/bin/python3", "-c", code], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert target.stdout is not None and target.stdout.readline().strip() == b"ready"
        result = subprocess.run(
            ["setpriv", "--bounding-set=-sys_ptrace", sys.executable, "-m", "livescope"]
            + ["attach", str(target.pid), "--no-console"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert "permission denied" in result.stderr, result.stderr
        # the fix to apply: as root without the capability, that is the container case
        assert "--cap-add=SYS_PTRACE" in result.stderr
        assert f"sudo -u '#65534' livescope attach {target.pid}" in result.stderr
        assert target.poll() is None
    finally:
        os.killpg(target.pid, signal.SIGKILL)
        target.wait()


def test_the_attach_library_is_built_with_the_package(tmp_path: Path) -> None:
    packaged = shim.packaged_library()
    assert packaged is not None and packaged.exists()
    copied = shim.ensure_shim(tmp_path)
    assert copied.read_bytes() == packaged.read_bytes()


def test_without_the_packaged_library_it_is_compiled_or_the_reason_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shim, "packaged_library", lambda: None)
    (tmp_path / "built").mkdir()
    built = shim.ensure_shim(tmp_path / "built")
    assert hasattr(ctypes.CDLL(str(built)), shim.ENTRY_POINT)  # loading it runs nothing
    monkeypatch.setenv("CC", "")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(shim.ShimBuildError, match="no C compiler"):
        shim.ensure_shim(tmp_path)


VERDICTS = [
    # (target uid, our uid, CAP_SYS_PTRACE, Yama scope, descendant) -> words of the refusal
    ((1000, 1000, False, 0, False), None),
    ((1000, 1000, False, 1, True), None),  # scope 1 lets a parent attach
    ((1000, 1000, False, 1, False), "ptrace_scope=1: only a parent"),
    ((1000, 1000, True, 1, False), None),
    ((1000, 1000, False, 2, True), "ptrace_scope=2: only CAP_SYS_PTRACE"),
    ((1000, 0, True, 2, False), None),  # root with the capability
    ((1000, 1000, True, 3, False), "needs a reboot"),
    ((1000, 2000, False, 0, False), "run the attach as that user (sudo -u '#1000'"),
    ((1000, 0, False, 0, False), "no CAP_SYS_PTRACE (a container started without it)"),
    ((0, 0, False, 1, False), "ptrace_scope=1"),  # a container's root, its own process
    ((1000, 0, True, 0, False), None),
]


@pytest.mark.parametrize(("case", "refusal"), VERDICTS)
def test_ptrace_rules_and_the_fix_each_refusal_names(case: tuple, refusal: str | None) -> None:
    # Yama and capabilities cannot be changed by a test on a shared machine: the rules that
    # read them are checked here, the reading itself by the real refusal above.
    target_uid, our_uid, privileged, scope, descendant = case
    verdict = procinfo.ptrace_verdict(
        pid=42,
        target_uid=target_uid,
        our_uid=our_uid,
        privileged=privileged,
        yama_scope=scope,
        descendant=descendant,
    )
    if refusal is None:
        assert verdict is None
    else:
        assert verdict is not None and refusal in verdict
        assert "sudo" in verdict or "reboot" in verdict  # every refusal says what to do


def test_a_child_is_a_descendant_and_a_sibling_is_not() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert procinfo._is_descendant(child.pid)
        assert not procinfo._is_descendant(os.getppid())
        assert not procinfo._is_descendant(1)
    finally:
        child.kill()
        child.wait()


def test_without_gdb_where_it_is_needed_the_attach_says_so(
    program: Callable[..., Program], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Off x86-64 the injection goes through gdb; here the own injector is set aside and no
    # gdb is on the PATH, as on such a machine without it.
    prog = program(WORKLOADS["sleep"])
    threads = len(os.listdir(f"/proc/{prog.pid}/task"))
    monkeypatch.setattr(inject.ptrace, "supported", lambda: False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(inject.AttachError) as caught:
        inject.attach(prog.pid, timeout=5)
    assert (
        str(caught.value) == "gdb is needed to attach to this Python version: apt-get install gdb"
    )
    assert inject.running_agent(prog.pid) is None
    assert len(os.listdir(f"/proc/{prog.pid}/task")) == threads  # nothing went in
    assert not list(bootstrap.agent_path().glob(f"boot-{prog.pid}.py"))
    finish(prog)


def test_attach_opens_the_console_on_the_target(
    program: Callable[..., Program], pty_console: Callable
) -> None:
    prog = program(WORKLOADS["busy"])
    console = pty_console("attach", str(prog.pid))
    console.read_until(f"agent started in process {prog.pid}: http://127.0.0.1:")
    console.read_until(f"[livescope@{prog.pid}]$")
    console.type_line("version", "0.1.0")
    console.send("\x04")  # Ctrl-D leaves the console; the agent stays
    assert console.proc.wait(15) == 0
    address = inject.running_agent(prog.pid)
    assert address is not None and version_over_http(address.url)
    again = pty_console("attach", str(prog.pid))  # a second attach connects to it
    again.read_until(f"agent already running in process {prog.pid}: {address.url}")
    again.read_until(f"[livescope@{prog.pid}]$")
    again.send("stop\r")  # the stop command shuts the agent down and the console leaves
    assert again.proc.wait(15) == 0
    deadline = time.monotonic() + 10
    while inject.running_agent(prog.pid) is not None:
        assert time.monotonic() < deadline, "the agent still listens after stop"
        time.sleep(0.05)
    finish(prog)


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.exists("/usr/bin/python3"),
    reason="needs root, setpriv and a system python3 to run ps as another user",
)
def test_ps_run_by_another_user_still_lists_the_process(program: Callable[..., Program]) -> None:
    prog = program(WORKLOADS["sleep"])  # root's; ps runs as nobody, who cannot read its maps
    address = inject.attach(prog.pid)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    env = dict(os.environ, PYTHONPATH=str(bootstrap.agent_path()))
    listing = subprocess.run(
        [*nobody, "/usr/bin/python3", "-m", "livescope", "ps"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd="/",
        check=True,
    )
    line = next(line for line in listing.stdout.splitlines() if line.split()[0] == str(prog.pid))
    pid, user, version, agent = line.split()[:4]
    assert (user, version, agent) == ("root", "?", "?")  # known, but not readable to nobody
    assert "main.py" in line
    assert "of another user" in listing.stderr
    own = run_cli("ps").stdout  # root sees it all
    line = next(line for line in own.splitlines() if line.split()[0] == str(prog.pid))
    version = "{}.{}".format(*sys.version_info[:2])
    assert line.split()[1:4] == ["root", version, address.url]
    stop_agent(prog.pid)
    finish(prog)


def test_the_attaching_livescope_goes_in_even_where_the_program_has_another(
    program: Callable[..., Program],
) -> None:
    prog = program(
        """\
        sys.path.insert(0, os.path.join(os.getcwd(), "own"))  # the program's own livescope
        time.sleep(120)
        """
    )
    own = prog.dir / "own" / "livescope"
    own.mkdir(parents=True)
    (own / "__init__.py").write_text("__version__ = '0.0.old'\nraise ImportError('not this one')\n")
    address = attach_timed(prog.pid)
    assert version_over_http(address.url) == livescope_version
    stop_agent(prog.pid)
    finish(prog)
