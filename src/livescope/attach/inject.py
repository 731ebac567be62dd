"""Attach: check the target, inject the bootstrap the safe way for its version, wait for the agent.

Every failure raises :class:`AttachError` with a message a user can act on; before the
injection nothing touches the target, and a bootstrap that arrives after the time limit finds
its script emptied and does nothing.
"""

from __future__ import annotations

import contextlib
import json
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from livescope.agent.marker import start_time
from livescope.attach import bootstrap, procinfo, ptrace
from livescope.attach.procinfo import ProcessError, ProcessInfo
from livescope.attach.shim import ENTRY_POINT, START_ERRORS, ShimBuildError, ensure_shim

DEFAULT_PORT = 8563
SUPPORTED = ((3, 10), (3, 14))  # inclusive range of the agent's CPython versions
INJECT_RETRIES = 20
# How long sys.remote_exec gets before the ptrace path is tried: a main thread that evaluates
# bytecode starts the script within milliseconds; one asleep or blocked in a call may never.
REMOTE_EXEC_GRACE = 0.25


class AttachError(Exception):
    """The attach failed; the message says why and how to fix it."""


@dataclass
class AgentAddress:
    pid: int
    host: str
    port: int
    started: bool  # False when an agent was already listening there

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _marker_paths(pid: int) -> list[Path]:
    """Markers of an agent in ``pid``: written by an attach (beside the agent path, also for a
    target in another root) or by the agent itself (:mod:`livescope.agent.marker`)."""
    temp = Path(tempfile.gettempdir())
    return sorted(
        [
            *temp.glob(f"livescope-agentpath-*/agent-{pid}.json"),
            *temp.glob(f"livescope-agents-*/agent-{pid}.json"),
        ]
    )


def find_agent(info: ProcessInfo) -> AgentAddress | None:
    """The agent running in this process (attached or started by the program itself), if it
    still listens where its marker says."""
    ports = {port for _, port in info.listening}
    for marker in _marker_paths(info.pid):
        with contextlib.suppress(OSError, ValueError, KeyError):
            data = json.loads(marker.read_text())
            if data["start_time"] == start_time(info.pid) and data["port"] in ports:
                return AgentAddress(info.pid, data["host"], data["port"], started=False)
    return None


def _write_marker(root: Path, address: AgentAddress) -> None:
    data = {"pid": address.pid, "host": address.host, "port": address.port}
    data["start_time"] = start_time(address.pid)
    (root / f"agent-{address.pid}.json").write_text(json.dumps(data))


def choose_port(host: str, wanted: int | None) -> int:
    """``wanted``, else the default port if free, else any free port."""
    if wanted:
        return wanted
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the agent's server does
        try:
            probe.bind((host, DEFAULT_PORT))
            return DEFAULT_PORT
        except OSError:
            probe.bind((host, 0))
            return probe.getsockname()[1]


def check_target(pid: int) -> ProcessInfo:
    """Inspect ``pid`` and refuse what cannot be attached, touching nothing."""
    try:
        info = procinfo.inspect(pid)
    except ProcessError as exc:
        raise AttachError(str(exc)) from None
    except PermissionError:
        raise AttachError(
            f"permission denied reading /proc/{pid}: run as its user or root"
        ) from None
    if info.version is None:
        problem = procinfo.ptrace_problem(info)
        if problem:  # what it runs cannot be read without the right to ptrace it
            raise AttachError(problem)
        name = info.exe or (info.cmdline[0] if info.cmdline else "?")
        raise AttachError(f"process {pid} is not a CPython process ({name})")
    if not SUPPORTED[0] <= info.version <= SUPPORTED[1]:
        raise AttachError(
            f"process {pid} runs Python {info.version_text}; livescope supports"
            " %d.%d to %d.%d" % (*SUPPORTED[0], *SUPPORTED[1])
        )
    return info


def _alive(pid: int) -> bool:
    try:
        state = (procinfo.PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _remote_exec_taken(info: ProcessInfo, boot: bootstrap.Bootstrap, timeout: float) -> bool:
    """Hand the bootstrap to ``sys.remote_exec``: True once the target runs it, False if its main
    thread did not get to it in time (the request is then taken back)."""
    from livescope.attach import pending_exec
    from livescope.attach.remote_exec import RemoteExecError, remote_exec

    try:
        script = boot.write_script()
        remote_exec(info, script, timeout)
    except RemoteExecError as exc:
        if boot.claimed():  # a request of an earlier attach was taken meanwhile
            return True
        boot.drop_script()
        raise AttachError(str(exc)) from None
    except OSError as exc:
        raise AttachError(f"cannot write the bootstrap for sys.remote_exec: {exc}") from None
    boot.drop_script(inside=False)
    deadline = time.monotonic() + REMOTE_EXEC_GRACE
    while time.monotonic() < deadline and _alive(info.pid):
        if boot.claimed():
            boot.drop_script()
            return True
        time.sleep(0.005)
    if pending_exec.withdraw(info.pid, str(script)):
        boot.drop_script()
    return boot.claimed()  # taken just before it was withdrawn


def _inject(info: ProcessInfo, boot: bootstrap.Bootstrap, **opts: object) -> None:
    """Queue the bootstrap in the target (it then runs on its own)."""
    timeout = float(opts["timeout"])  # type: ignore[arg-type]
    modern = info.version and info.version >= (3, 14) and not opts["unsafe"]
    if modern and _remote_exec_taken(info, boot, timeout):
        return
    try:
        shim = None if opts["unsafe"] else ensure_shim(boot.agent_dir)
        if shim is not None:
            boot.publish(shim)
    except ShimBuildError as exc:
        raise AttachError(str(exc)) from None
    except OSError as exc:
        raise AttachError(f"cannot place the attach library in the target's root: {exc}") from None
    inject_once = _ptrace_injector if ptrace.supported() else _gdb_injector
    for _ in range(INJECT_RETRIES):
        try:
            result = inject_once(info.pid, shim, boot, max(timeout, 15))
        except _Retry:
            time.sleep(0.05)
            continue
        if shim is None and result != 0:  # PyRun_SimpleString printed the error in the target
            raise AttachError(f"the bootstrap raised an exception in {info.pid} (see its stderr)")
        if result != 0:
            raise AttachError(START_ERRORS.get(result, f"injection failed: {result}"))
        return
    raise AttachError("no thread of the target reached a point safe for the injection")


class _Retry(Exception):
    """No thread of the target was at a safe point this time."""


def _ptrace_injector(pid: int, shim: Path | None, boot: bootstrap.Bootstrap, timeout: float) -> int:
    """Inject with our own ptrace code (x86-64): no gdb needed, and AMX-safe."""
    try:
        if shim is None:
            return ptrace.run_python_unsafe(pid, boot.runner_code(), timeout)
        return ptrace.load_library(pid, shim, ENTRY_POINT, timeout)
    except ptrace.PtraceRetry:
        raise _Retry from None
    except ptrace.PtraceError as exc:
        raise AttachError(f"injection failed: {exc}") from None


def _gdb_injector(pid: int, shim: Path | None, boot: bootstrap.Bootstrap, timeout: float) -> int:
    """Inject through gdb (architectures the ptrace injector does not know)."""
    from livescope.attach.gdb import GdbError, GdbRetry, run_gdb

    try:
        unsafe_code = boot.runner_code() if shim is None else None
        run_gdb(pid, shim=shim, unsafe_code=unsafe_code, timeout=timeout)
        return 0
    except GdbRetry:
        raise _Retry from None
    except GdbError as exc:
        raise AttachError(str(exc)) from None


def _wait_listening(pid: int, port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if any(p == port for _, p in procinfo.listening_ports(pid)):
            return True
        time.sleep(0.01)
    return False


def attach(
    pid: int,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    password: str | None = None,
    timeout: float = 10.0,
    unsafe: bool = False,
    mesh: str | None = None,
    app: str | None = None,
) -> AgentAddress:
    """Start the agent in process ``pid`` (or find the one already there) and return its address;
    with ``mesh``, the new agent also connects to that mesh as ``app``."""
    options = _mesh_options(mesh, app)
    info = check_target(pid)
    existing = find_agent(info)
    if existing:
        return existing
    problem = procinfo.ptrace_problem(info)
    if problem:
        raise AttachError(problem)
    deadline = time.monotonic() + timeout
    chosen = choose_port(host, port)
    try:
        root, boot = bootstrap.prepare(
            pid,
            host=host,
            port=chosen,
            password=password,
            target_uid=info.uid,
            options=options,
            any_port=not port,  # a port the user did not ask for may change if it is taken
            stacks=unsafe,
        )
    except (OSError, RuntimeError, ProcessError) as exc:
        raise AttachError(f"cannot prepare the bootstrap: {exc}") from None
    try:
        _inject(info, boot, timeout=timeout, unsafe=unsafe)
        status = boot.wait(max(0.5, deadline - time.monotonic()), lambda: _alive(pid))
        if status is None:
            boot.withdraw()  # a bootstrap thread waking late finds nothing to run
            if not _alive(pid):
                raise AttachError(f"process {pid} exited during the attach")
            threads = "\n  ".join(procinfo.thread_states(pid)) or "(unreadable)"
            raise AttachError(
                f"process {pid} did not run the bootstrap within {timeout:.1f}s: a thread may"
                " hold the GIL (a long C call). --unsafe runs the bootstrap on its main thread"
                " where it stands, shows every thread's Python stack, and leaves an agent that"
                f" answers once the GIL is released. Its threads:\n  {threads}"
            )
        if not status.get("ok"):
            raise AttachError(f"the agent did not start in {pid}: {status.get('error')}")
        chosen = int(status.get("port") or chosen)
        if not _wait_listening(pid, chosen, max(deadline, time.monotonic() + 1.0)):
            raise AttachError(f"the agent started in {pid} but does not listen on {chosen}")
        address = AgentAddress(pid, host, chosen, started=True)
        _write_marker(root, address)
        if not _answers(host, chosen, max(0.5, min(2.0, deadline - time.monotonic()))):
            stacks = "\n".join(status.get("stacks") or ["(not read: --unsafe reads them)"])
            raise AttachError(
                f"the agent started in {pid} on {address.url} but cannot answer: a thread holds"
                " the GIL and does not release it (a long C call). The agent answers once that"
                f" call returns; `livescope stop {pid}` removes it then. Python stacks at the"
                f" attach:\n{stacks}"
            )
        return address
    finally:
        boot.cleanup()


def _answers(host: str, port: int, timeout: float) -> bool:
    """Whether the agent serves a request: it listens as soon as it started, but serves only
    while its thread gets the GIL."""
    import http.client

    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", "/livescope-ping")
        connection.getresponse().read()
        return True
    except OSError:  # timeouts included
        return False
    finally:
        connection.close()


def _mesh_options(mesh: str | None, app: str | None) -> dict[str, str]:
    """``livescope.start`` keywords for the mesh link, the URL checked before anything runs."""
    if not mesh:
        return {}
    from livescope.agent.meshlink import parse_urls

    try:
        parse_urls(mesh)
    except ValueError as exc:
        raise AttachError(f"--mesh: {exc}") from None
    return {"mesh": mesh, **({"app": app} if app else {})}


def forget(pid: int) -> None:
    """Drop the markers of ``pid`` (its agent was stopped)."""
    for marker in _marker_paths(pid):
        with contextlib.suppress(OSError):
            marker.unlink()


def running_agent(pid: int) -> AgentAddress | None:
    """The agent listening in ``pid``, for ``ps`` and ``stop``."""
    try:
        return find_agent(procinfo.inspect(pid))
    except (ProcessError, OSError):
        return None
