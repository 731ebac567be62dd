"""Take back a ``sys.remote_exec`` request that the target's main thread has not run yet.

A request waits in the main thread's state until that thread next evaluates bytecode or checks
for signals. One left behind after the ptrace path got the agent in would run at that later
moment, and if the moment is a signal arriving (Ctrl-C, SIGTERM), the program's handler runs
inside the script and its exception (KeyboardInterrupt, SystemExit) is swallowed as the script's
error: the program would not stop. So the attach takes its request back, found the way
``remote_exec`` finds it (through the debug offsets CPython keeps at the start of its
``PyRuntime`` section): the pending flag is cleared if the script named there is ours.

The offsets are CPython 3.14's ``_Py_DebugOffsets`` (Include/internal/pycore_debug_offsets.h):
an 8-byte cookie, then only uint64 fields, which give the offsets inside the runtime's structures
used below. Anything that does not look like that layout leaves the target alone.
"""

from __future__ import annotations

import os
import struct

from livescope.attach.elfsyms import find_section, read_maps

COOKIE = b"xdebugpy"
PYTHON_FILES = r"/(python3[.0-9]*|libpython3[^/]*)$"
SCRIPT_PATH_SIZE = 512
# positions of fields in _Py_DebugOffsets (3.14)
VERSION = 8
INTERPRETERS_HEAD = 40  # runtime_state.interpreters_head
THREADS_MAIN = 80  # interpreter_state.threads_main
THREAD_STATE_SIZE = 176  # thread_state.size
DEBUGGER_SUPPORT = 8 + 88 * 8  # the debugger_support group: 6 fields
DEBUG_OFFSETS_SIZE = DEBUGGER_SUPPORT + 6 * 8


def _u64(data: bytes, at: int) -> int:
    return struct.unpack_from("<Q", data, at)[0]


def _pointer(fd: int, address: int) -> int:
    return _u64(os.pread(fd, 8, address), 0)


def withdraw(pid: int, script: str) -> bool:
    """Clear the main thread's pending request if it is to run ``script``; True if cleared,
    False if none of ours is pending (taken already) or the runtime cannot be read."""
    found = find_section(pid, read_maps(pid), ".PyRuntime", PYTHON_FILES)
    if found is None:
        return False
    runtime = found[0]
    try:
        fd = os.open(f"/proc/{pid}/mem", os.O_RDWR)
    except OSError:
        return False
    try:
        offsets = os.pread(fd, DEBUG_OFFSETS_SIZE, runtime)
        support = struct.unpack_from("<6Q", offsets, DEBUGGER_SUPPORT)
        _, thread_support, _, pending_at, path_at, path_size = support
        if (
            offsets[:8] != COOKIE
            or _u64(offsets, VERSION) >> 16 != 0x030E
            or path_size != SCRIPT_PATH_SIZE
            or thread_support + path_at + path_size > _u64(offsets, THREAD_STATE_SIZE)
        ):
            return False
        interpreter = _pointer(fd, runtime + _u64(offsets, INTERPRETERS_HEAD))
        main = _pointer(fd, interpreter + _u64(offsets, THREADS_MAIN)) if interpreter else 0
        if not main:
            return False
        named = os.pread(fd, path_size, main + thread_support + path_at).split(b"\0", 1)[0]
        flag_at = main + thread_support + pending_at
        if named != os.fsencode(script) or os.pread(fd, 4, flag_at) != struct.pack("<i", 1):
            return False
        os.pwrite(fd, struct.pack("<i", 0), flag_at)
        return True
    except (OSError, struct.error):
        return False
    finally:
        os.close(fd)
