"""ptrace injection without gdb, for x86-64 Linux (CPython 3.10-3.13).

The same plan as :mod:`livescope.attach.gdb` - ``dlopen`` the bootstrap library on one thread
stopped at a safe point, call its ``livescope_attach_start()``, put the thread back exactly as it
was - done here with ``ptrace(2)`` directly. That removes the gdb dependency and works where
gdb cannot restore a thread's registers: gdb 13 writes a fixed-size XSAVE area, which kernels
refuse (``Couldn't write extended state status: Bad address``) on CPUs with AMX, so every gdb
inferior call fails there. Here the XSAVE area is read at the size the kernel reports and
written back at that same size.

Only the chosen thread is stopped; the others keep running, so locks they hold are released as
usual. A thread qualifies when it sits in a system call (it holds no libc lock at that instant)
or executes outside libc and the dynamic loader. The thread's system call is restarted when it
resumes, as if nothing had happened: the call runs with ``orig_rax = -1`` (no restart), and the
saved registers, restored before detaching, carry the kernel's restart request.

A call returns to address 0: the thread then stops with SIGSEGV at ``rip == 0``, which is
swallowed, and ``rax`` holds the result.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import signal
import struct
import time
from pathlib import Path

from livescope.attach.elfsyms import Mapping, find_function, read_maps

PTRACE_CONT = 7
PTRACE_GETREGS = 12
PTRACE_SETREGS = 13
PTRACE_DETACH = 17
PTRACE_GETREGSET = 0x4204
PTRACE_SETREGSET = 0x4205
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_EVENT_STOP = 128
NT_X86_XSTATE = 0x202
NT_PRFPREG = 2
WALL = 0x40000000
XSTATE_MAX = 64 * 1024
RED_ZONE = 128

# struct user_regs_struct of x86-64, in order
REGISTERS = [
    "r15",
    "r14",
    "r13",
    "r12",
    "rbp",
    "rbx",
    "r11",
    "r10",
    "r9",
    "r8",
    "rax",
    "rcx",
    "rdx",
    "rsi",
    "rdi",
    "orig_rax",
    "rip",
    "cs",
    "eflags",
    "rsp",
    "ss",
    "fs_base",
    "gs_base",
    "ds",
    "es",
    "fs",
    "gs",
]
REGS_FORMAT = f"<{len(REGISTERS)}Q"
UNSAFE_LIBS = r"/(libc|ld-linux[^/]*|ld-musl[^/]*|libpthread|libdl)[.-][^/]*$"
# A thread stopped in one of these (x86-64 numbers) is most likely inside malloc or free,
# holding an arena lock that the dlopen we would run on it needs: mmap, mprotect, munmap,
# brk, mremap, madvise.
ALLOCATOR_SYSCALLS = frozenset({9, 10, 11, 12, 25, 28})
SYSCALL_INSTRUCTION = b"\x0f\x05"
DIRECTION_FLAG = 1 << 10
RTLD_NOW = 2


class PtraceError(RuntimeError):
    """The injection failed; the message says why."""


class PtraceRetry(PtraceError):
    """No thread was at a point safe for the injection; try again shortly."""


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.restype = ctypes.c_long
_libc.ptrace.argtypes = (ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


def supported() -> bool:
    """Whether this injector works on this machine (x86-64 Linux)."""
    return os.uname().machine == "x86_64" and os.uname().sysname == "Linux"


def _ptrace(request: int, tid: int, addr: int | None = 0, data: object = 0) -> int:
    result = _libc.ptrace(request, tid, addr, data)
    if result == -1:
        code = ctypes.get_errno()
        if code:
            raise OSError(code, os.strerror(code))
    return result


class _Thread:
    """One seized and stopped thread of the target, with its state saved on the way in."""

    def __init__(self, pid: int, tid: int) -> None:
        self.pid, self.tid = pid, tid
        self.attached = False
        _ptrace(PTRACE_SEIZE, tid)
        self.attached = True
        try:
            _ptrace(PTRACE_INTERRUPT, tid)
            if self._wait_stop(time.monotonic() + 5) is None:
                raise PtraceError(f"thread {tid} of process {pid} did not stop")
            self.saved = self.get_regs()
            self.xstate, self.xstate_kind = self._read_xstate()
        except BaseException:
            self._detach_quietly()
            raise

    # -- registers --------------------------------------------------------------------------
    def get_regs(self) -> dict[str, int]:
        buffer = ctypes.create_string_buffer(struct.calcsize(REGS_FORMAT))
        _ptrace(PTRACE_GETREGS, self.tid, 0, buffer)
        return dict(zip(REGISTERS, struct.unpack(REGS_FORMAT, buffer.raw), strict=True))

    def set_regs(self, regs: dict[str, int]) -> None:
        values = [regs[name] & 0xFFFFFFFFFFFFFFFF for name in REGISTERS]
        buffer = ctypes.create_string_buffer(struct.pack(REGS_FORMAT, *values))
        _ptrace(PTRACE_SETREGS, self.tid, 0, buffer)

    def _read_xstate(self) -> tuple[bytes, int]:
        # The kernel shortens iov.len to the real size of this CPU's XSAVE area.
        for kind in (NT_X86_XSTATE, NT_PRFPREG):
            buffer = ctypes.create_string_buffer(XSTATE_MAX)
            iov = _Iovec(ctypes.cast(buffer, ctypes.c_void_p), XSTATE_MAX)
            try:
                _ptrace(PTRACE_GETREGSET, self.tid, kind, ctypes.byref(iov))
            except OSError:
                continue
            return buffer.raw[: iov.len], kind
        raise PtraceError("cannot read the thread's floating-point state")

    def _write_xstate(self) -> None:
        buffer = ctypes.create_string_buffer(self.xstate, len(self.xstate))
        iov = _Iovec(ctypes.cast(buffer, ctypes.c_void_p), len(self.xstate))
        _ptrace(PTRACE_SETREGSET, self.tid, self.xstate_kind, ctypes.byref(iov))

    # -- memory -----------------------------------------------------------------------------
    def read(self, address: int, size: int) -> bytes:
        fd = os.open(f"/proc/{self.pid}/mem", os.O_RDONLY)
        try:
            return os.pread(fd, size, address)
        finally:
            os.close(fd)

    def write(self, address: int, data: bytes) -> None:
        fd = os.open(f"/proc/{self.pid}/mem", os.O_WRONLY)
        try:
            if os.pwrite(fd, data, address) != len(data):
                raise PtraceError("short write into the target's memory")
        finally:
            os.close(fd)

    def in_syscall(self) -> bool:
        try:
            return self.read(self.saved["rip"] - 2, 2) == SYSCALL_INSTRUCTION
        except OSError:
            return False

    # -- running code in the thread ---------------------------------------------------------
    def call(self, function: int, *args: int, data: bytes = b"", timeout: float = 10.0) -> int:
        """Call ``function(*args)`` on this thread; ``data`` is copied below its stack first and
        its address replaces any argument equal to -1. Returns ``rax``."""
        regs = dict(self.saved)
        data_at = (regs["rsp"] - RED_ZONE - len(data) - 16) & ~0xF
        stack = ((data_at - 64) & ~0xF) - 8  # 16-byte aligned before the return address push
        if data:
            self.write(data_at, data)
        self.write(stack, b"\0" * 8)  # the return address: 0
        for name, value in zip(("rdi", "rsi", "rdx"), args, strict=False):
            regs[name] = data_at if value == -1 else value
        regs.update(rip=function, rsp=stack, rax=0, orig_rax=-1)
        regs["eflags"] &= ~DIRECTION_FLAG
        self.set_regs(regs)
        _ptrace(PTRACE_CONT, self.tid, 0, 0)
        deadline = time.monotonic() + timeout
        while True:
            stop_signal = self._wait_stop(deadline)
            if stop_signal is None:
                # Not back in time (a lock held elsewhere?): stop the thread and put it back as
                # it was rather than leave it inside code it never meant to run.
                _ptrace(PTRACE_INTERRUPT, self.tid)
                os.waitpid(self.tid, WALL)
                raise PtraceError(f"the injected call did not return on thread {self.tid} in time")
            if stop_signal == signal.SIGSEGV and self.get_regs()["rip"] == 0:
                return self.get_regs()["rax"]
            if stop_signal == signal.SIGSEGV:
                raise PtraceError(f"the injected call crashed at {self.get_regs()['rip']:#x}")
            # some other signal arrived meanwhile: let the program's handler have it
            _ptrace(PTRACE_CONT, self.tid, 0, stop_signal)

    def _wait_stop(self, deadline: float) -> int | None:
        """The next stop's signal (0 for a ptrace event stop); None if none came in time."""
        while True:
            try:
                waited, status = os.waitpid(self.tid, os.WNOHANG | WALL)
            except ChildProcessError:
                raise PtraceError(f"thread {self.tid} of process {self.pid} is gone") from None
            if waited == 0:
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.0005)
                continue
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                raise PtraceError(f"process {self.pid} exited during the injection")
            if status >> 16 == PTRACE_EVENT_STOP:
                return 0
            return os.WSTOPSIG(status)

    # -- leaving ----------------------------------------------------------------------------
    def restore_and_detach(self) -> None:
        """Put the thread back exactly as it was stopped and let it go (once)."""
        if not self.attached:
            return
        try:
            self._write_xstate()
            self.set_regs(self.saved)
        finally:
            self._detach_quietly()

    def _detach_quietly(self) -> None:
        self.attached = False
        with contextlib.suppress(OSError):
            _ptrace(PTRACE_DETACH, self.tid, 0, 0)


def _tids(pid: int) -> list[int]:
    return sorted(int(name) for name in os.listdir(f"/proc/{pid}/task"))


def _pick_thread(pid: int, mappings: list[Mapping]) -> _Thread:
    """A stopped thread in a system call (not one the allocator makes), else one outside libc
    and the loader."""
    unsafe = re.compile(UNSAFE_LIBS)
    fallback: _Thread | None = None
    for tid in _tids(pid):
        try:
            thread = _Thread(pid, tid)
        except OSError as exc:
            if exc.errno == errno.ESRCH:
                continue  # the thread ended meanwhile
            if exc.errno == errno.EPERM:
                raise PtraceError(
                    f"permission denied: ptrace of {pid} refused (another user, Yama"
                    " ptrace_scope, or a container without CAP_SYS_PTRACE: run with"
                    " --cap-add=SYS_PTRACE)"
                ) from None
            raise PtraceError(f"cannot stop thread {tid} of {pid}: {exc.strerror}") from None
        if thread.in_syscall() and thread.saved["orig_rax"] not in ALLOCATOR_SYSCALLS:
            if fallback is not None:
                fallback.restore_and_detach()
            return thread
        rip = thread.saved["rip"]
        where = next((m.path for m in mappings if m.start <= rip < m.end), "")
        if fallback is None and not unsafe.search(where):
            fallback = thread
        else:
            thread.restore_and_detach()
    if fallback is None:
        raise PtraceRetry("every thread is inside libc or the dynamic loader")
    return fallback


def _function(pid: int, mappings: list[Mapping], names: tuple[str, ...], library: str) -> int:
    for name in names:
        found = find_function(pid, mappings, name, library)
        if found:
            return found[0]
    raise PtraceError(f"{names[0]} was not found in the target's {library.strip('/^$')} library")


def load_library(pid: int, library: Path, entry: str, timeout: float = 10.0) -> int:
    """``dlopen`` ``library`` in ``pid`` (unless it is loaded already) and return ``entry()``.
    A target in another root must have its own copy at the same path inside that root; ``maps``
    then shows it under the root's directory, hence the matches on the end of the path."""
    real = os.path.realpath(library)
    mappings = read_maps(pid)
    thread = _pick_thread(pid, mappings)
    try:
        if not any(m.path.endswith(real) for m in mappings):
            libc = r"/libc[.-][^/]*$|/ld-musl[^/]*$"
            dlopen = _function(pid, mappings, ("dlopen", "__libc_dlopen_mode"), libc)
            handle = thread.call(dlopen, -1, RTLD_NOW, data=real.encode() + b"\0", timeout=timeout)
            if not handle:
                raise PtraceError(f"the target could not load {real} (dlopen failed)")
            mappings = read_maps(pid)
        found = find_function(pid, mappings, entry, re.escape(real) + "$")
        if found is None:
            raise PtraceError(f"{entry} is missing from {real}")
        result = thread.call(found[0], timeout=timeout)
        return ctypes.c_int(result & 0xFFFFFFFF).value
    finally:
        thread.restore_and_detach()


def run_python_unsafe(pid: int, code: str, timeout: float = 10.0) -> int:
    """``--unsafe``: run ``code`` with ``PyRun_SimpleString`` on the main thread where it stands."""
    mappings = read_maps(pid)
    python = r"/(python3[.0-9]*|libpython3[^/]*)$"
    ensure = _function(pid, mappings, ("PyGILState_Ensure",), python)
    run = _function(pid, mappings, ("PyRun_SimpleString",), python)
    release = _function(pid, mappings, ("PyGILState_Release",), python)
    thread = _Thread(pid, pid)
    try:
        state = thread.call(ensure, timeout=timeout)
        result = thread.call(run, -1, data=code.encode() + b"\0", timeout=timeout)
        thread.call(release, state & 0xFFFFFFFF, timeout=timeout)
        return ctypes.c_int(result & 0xFFFFFFFF).value
    finally:
        thread.restore_and_detach()
