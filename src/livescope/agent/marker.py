"""A running agent announces where it listens, so ``livescope ps`` / ``attach`` / ``stop`` find it.

``<tmp>/livescope-agents-<uid>/agent-<pid>.json`` holds the pid, host, port and the process's
start time (so a file left by a crashed process is never taken for a later process with the
same pid). It is written once the port is open and removed when the agent stops; an agent
started by ``livescope.start()`` inside a program is found the same way as an attached one.
Best effort: a /tmp that cannot be written, or a directory that is not the user's own, only
means the agent is not listed.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path


def directory() -> Path:
    return Path(tempfile.gettempdir()) / f"livescope-agents-{os.geteuid()}"


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()[19]


def _own_directory() -> Path | None:
    where = directory()
    with contextlib.suppress(FileExistsError):
        where.mkdir(mode=0o755)
    try:
        info = os.lstat(where)
    except OSError:
        return None
    # not a symlink or someone else's directory planted in a shared /tmp
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        return None
    return where


def write(host: str, port: int) -> Path | None:
    """Announce this process's agent; the file written, or None."""
    pid = os.getpid()
    began = start_time(pid)
    try:
        where = _own_directory()
        if where is None or began is None:
            return None
        path = where / f"agent-{pid}.json"
        partial = where / f".agent-{pid}.json.part"
        partial.write_text(
            json.dumps({"pid": pid, "host": host, "port": port, "start_time": began})
        )
        os.replace(partial, path)
        return path
    except OSError:
        return None


def remove(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()
