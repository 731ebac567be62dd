"""CPython 3.14+: ``sys.remote_exec``, run by an interpreter of the target's own version.

The target runs the script itself the next time its main thread evaluates bytecode, so nothing
is stopped or hijacked (a main thread asleep or blocked in a call gets to it only when it wakes:
the caller falls back to the ptrace path then). ``remote_exec`` needs the caller to be the same
minor version as the target, so the caller is the target's own interpreter, run where it works:

* target in our root: its executable (``/proc/PID/exe`` if the file was replaced);
* in a chroot (another root, our mount namespace): that root's executable, run *here* through
  the root's own dynamic loader and libraries (its libc may be newer than ours). Not chrooted:
  ``remote_exec`` reads ``/proc/PID/maps``, which a chroot seldom has, and opens the files named
  there, which /proc names relative to the reader's root;
* in a container (another mount namespace): inside it, with ``nsenter``, where ``/proc`` is the
  container's own and the target has the pid of its pid namespace.

The script must exist for the caller (``remote_exec`` checks) and inside the target's root (the
target opens it); the bootstrap puts it at the same path in both.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from livescope.attach.elfsyms import read_maps
from livescope.attach.procinfo import ProcessInfo

_LOADER = re.compile(r"/ld-(linux|musl)[^/]*\.so[.\d]*$")
DISABLED_MARK = "not enabled in the remote process"


class RemoteExecError(RuntimeError):
    """``sys.remote_exec`` failed; the message says why."""


class RemoteDebugDisabled(RemoteExecError):
    """The target was started with remote debugging disabled."""


def interpreter_for(pid: int, exe: str) -> str:
    """A path that runs the target's interpreter: its executable, or /proc/PID/exe if deleted."""
    return exe if exe and os.path.exists(exe) else f"/proc/{pid}/exe"


def _through_own_loader(info: ProcessInfo) -> list[str]:
    """The chroot's interpreter run here with the loader and library directories it has mapped."""
    files = {m.path for m in read_maps(info.pid) if m.path.startswith("/")}
    loader = next((path for path in sorted(files) if _LOADER.search(path)), None)
    if loader is None:
        return [info.exe]  # statically linked: runs as it is
    libraries = sorted({os.path.dirname(p) for p in files if ".so" in os.path.basename(p)})
    return [loader, "--library-path", ":".join(libraries), info.exe]


def caller_command(info: ProcessInfo) -> tuple[list[str], int]:
    """The command that runs the target's interpreter as the caller, and the target's pid there."""
    if not info.foreign_root:
        return [interpreter_for(info.pid, info.exe)], info.pid
    if info.own_mounts:
        return _through_own_loader(info), info.pid
    nsenter = shutil.which("nsenter")
    if nsenter is None:
        raise RemoteExecError(
            f"process {info.pid} runs in another mount namespace (a container): attaching to it"
            " needs nsenter (util-linux)"
        )
    command = [nsenter, f"--target={info.pid}", "--mount", "--root"]
    if info.nspid != info.pid:
        command.append("--pid")
    return [*command, "--", info.inside(info.exe)], info.nspid


def _explain(pid: int, message: str) -> RemoteExecError:
    if DISABLED_MARK in message:
        return RemoteDebugDisabled(
            f"process {pid} was started with remote debugging disabled"
            " (PYTHON_DISABLE_REMOTE_DEBUG set, or -X disable-remote-debug), so livescope does"
            " not attach to it; restart it without that to allow attaching"
        )
    if "PermissionError" in message or "Operation not permitted" in message:
        message += " (remote_exec needs the right to ptrace the target: run as its user or root)"
    return RemoteExecError(f"sys.remote_exec failed: {message}")


def remote_exec(info: ProcessInfo, script: Path, timeout: float) -> None:
    """Ask the target to run ``script``; returns once the request is queued, not run."""
    command, pid = caller_command(info)
    code = f"import sys; sys.remote_exec({pid}, {str(script)!r})"
    try:
        result = subprocess.run(
            [*command, "-I", "-c", code], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise RemoteExecError(f"sys.remote_exec did not return within {timeout:.1f}s") from None
    except OSError as exc:
        raise RemoteExecError(f"cannot run the target's interpreter {command[0]}: {exc}") from None
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or [f"exit status {result.returncode}"]
        raise _explain(info.pid, lines[-1])
