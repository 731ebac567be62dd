"""CPython 3.14+: ``sys.remote_exec``, run by an interpreter of the target's own version.

The target runs the script itself at its next safe evaluation point, so no ptrace tricks are
needed. The interpreter used is the target's own executable (``/proc/PID/exe``), because
``remote_exec`` requires the caller and the target to be the same minor version.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class RemoteExecError(RuntimeError):
    """``sys.remote_exec`` refused (remote debugging disabled, permission); message says why."""


def interpreter_for(pid: int, exe: str) -> str:
    """A path that runs the target's interpreter: its executable, or /proc/PID/exe if deleted."""
    return exe if exe and os.path.exists(exe) else f"/proc/{pid}/exe"


def remote_exec(pid: int, exe: str, script: Path, timeout: float) -> None:
    """Ask the target to run ``script``; returns once the request is queued, not run."""
    code = f"import sys; sys.remote_exec({pid}, {str(script)!r})"
    try:
        result = subprocess.run(
            [interpreter_for(pid, exe), "-I", "-c", code],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise RemoteExecError(f"sys.remote_exec did not return within {timeout:.1f}s") from None
    if result.returncode != 0:
        message = (result.stderr.strip().splitlines() or ["failed"])[-1]
        if "not enabled" in message.lower() or "disable" in message.lower():
            message += (
                " (the target disabled remote debugging: PYTHON_DISABLE_REMOTE_DEBUG or"
                " -X disable_remote_debug; restart it without, or attach with gdb)"
            )
        raise RemoteExecError(message)
