"""``livescope attach`` on CPython 3.14: ``sys.remote_exec``, and ptrace where it cannot act in time.

The machine's distribution has no 3.14; ``scripts/python314`` unpacks Debian unstable's into a
root of its own (``/opt/livescope-py314``, or ``$LIVESCOPE_PY314_ROOT``). Its interpreter needs
that root's libc, so the targets run inside it: in a chroot, and in a container made with
``unshare`` (mount and pid namespaces of its own, its own /proc) - what a user attaching to a
program in a chroot or a container has. Without that root, or without root rights to enter it,
these tests are skipped.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import test_attach
from livescope.attach import bootstrap, procinfo, shim
from livescope.attach.treecopy import sync_tree
from test_attach import WORKLOADS, Program, attach_use_stop, finish, run_cli

program = test_attach.program  # its fixture starting (and killing) target programs

ROOT = Path(os.environ.get("LIVESCOPE_PY314_ROOT", "/opt/livescope-py314"))
PYTHON = "/usr/bin/python3.14"


def _unavailable() -> str | None:
    if not (ROOT / PYTHON.lstrip("/")).exists():
        return f"no CPython 3.14 root at {ROOT}: make it with scripts/python314"
    if os.geteuid() != 0:
        return "running a target in the CPython 3.14 root (chroot) needs root"
    return None


pytestmark = pytest.mark.skipif(_unavailable() is not None, reason=str(_unavailable()))

# How each kind of target is started: a command standing for "python" (see Program).
LAUNCHERS = {
    "chroot": "exec chroot {root} {python}",
    "container": "exec unshare --mount --pid --fork --mount-proc --root={root} {python}",
    "env-disabled": "PYTHON_DISABLE_REMOTE_DEBUG=1 exec chroot {root} {python}",
    "x-disabled": "exec chroot {root} {python} -X disable-remote-debug",
}


@pytest.fixture(scope="session")
def launchers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("py314-launchers")
    paths = {}
    for name, command in LAUNCHERS.items():
        path = directory / name
        line = command.format(root=shlex.quote(str(ROOT)), python=PYTHON)
        path.write_text(f'#!/bin/sh\n{line} "$@"\n')
        path.chmod(0o755)
        paths[name] = str(path)
    return paths


@pytest.fixture(scope="session", autouse=True)
def agent_ready_for_other_roots() -> None:
    """Done once, not inside a timed attach: the bootstrap library built, the agent's copy in
    the root compiled to 3.14 bytecode (a first import there compiles it, like any first run)."""
    copies = bootstrap.agent_copies()
    shim.ensure_shim(copies)
    inside = ROOT / copies.relative_to("/")
    for name in bootstrap.AGENT_PACKAGES:
        sync_tree(copies / name, inside / name)
    command = ["chroot", str(ROOT), PYTHON, "-m", "compileall", "-q", str(copies)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def library_loaded(pid: int) -> bool:
    """Whether the ptrace path's bootstrap library is in the process."""
    return shim.SHIM_NAME in Path(f"/proc/{pid}/maps").read_text()


def assert_nothing_left(prog: Program, nspid: int) -> None:
    """No script of the attach stays in the target's root, none ran late (its output says)."""
    agent_dir = ROOT / bootstrap.agent_copies().relative_to("/")
    assert not (agent_dir / f"boot-{nspid}.py").exists()
    assert not (agent_dir / f"run-{prog.pid}.py").exists()
    assert "debugger script" not in prog.output.read_text()


@pytest.mark.parametrize("workload", ["busy", "sleep"])
def test_attach_in_a_chroot(
    program: Callable[..., Program], launchers: dict[str, str], workload: str
) -> None:
    prog = program(WORKLOADS[workload], launchers["chroot"], ROOT)
    assert procinfo.inspect(prog.pid).version == (3, 14)
    attach_use_stop(prog)
    # A main thread evaluating bytecode takes sys.remote_exec's script at once; one asleep
    # cannot, and the ptrace path's library brings the agent in instead.
    assert library_loaded(prog.pid) == (workload == "sleep")
    attach_use_stop(prog)  # re-attach after a stop works
    assert_nothing_left(prog, prog.pid)
    finish(prog)
    assert_nothing_left(prog, prog.pid)


@pytest.mark.parametrize("workload", ["busy", "sleep"])
def test_attach_in_a_container(
    program: Callable[..., Program], launchers: dict[str, str], workload: str
) -> None:
    prog = program(WORKLOADS[workload], launchers["container"], ROOT)
    # unshare forks the program: it is pid 1 of its own pid namespace
    prog.pid = int(Path(f"/proc/{prog.proc.pid}/task/{prog.proc.pid}/children").read_text())
    info = procinfo.inspect(prog.pid)
    assert (info.nspid, info.own_mounts, info.version) == (1, False, (3, 14))
    attach_use_stop(prog)
    assert library_loaded(prog.pid) == (workload == "sleep")
    assert_nothing_left(prog, info.nspid)
    finish(prog)  # the signal goes to the program; unshare exits with its code


@pytest.mark.parametrize("launcher", ["env-disabled", "x-disabled"])
def test_remote_debugging_disabled_is_explained(
    program: Callable[..., Program], launchers: dict[str, str], launcher: str
) -> None:
    prog = program(WORKLOADS["sleep"], launchers[launcher], ROOT)
    threads = os.listdir(f"/proc/{prog.pid}/task")
    result = run_cli("attach", str(prog.pid), "--no-console")
    assert result.returncode == 1
    assert "started with remote debugging disabled" in result.stderr
    assert "PYTHON_DISABLE_REMOTE_DEBUG" in result.stderr
    assert "-X disable-remote-debug" in result.stderr
    # untouched: no library, no agent thread, no port, no script left for it
    assert not library_loaded(prog.pid)
    assert os.listdir(f"/proc/{prog.pid}/task") == threads
    assert procinfo.listening_ports(prog.pid) == []
    assert_nothing_left(prog, prog.pid)
    finish(prog)
