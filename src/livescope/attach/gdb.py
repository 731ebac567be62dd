"""ptrace injection through gdb, where :mod:`livescope.attach.ptrace` does not run (not x86-64).

Why not the obvious ways:

* ``PyGILState_Ensure(); PyRun_SimpleString(...)`` from gdb runs Python on whichever thread gdb
  stopped, at whatever instruction it was at - inside the allocator, half-way through a
  reference count update - and can corrupt or deadlock the target. That is ``--unsafe`` here,
  only for a target whose GIL is held forever, never the default.
* ``Py_AddPendingCall(PyRun_SimpleString, code)`` does run at a safe point, but pending calls
  run only in the main thread while it evaluates bytecode: a main thread blocked in
  ``time.sleep``, ``socket.recv`` or ``Thread.join`` would never take it, and waking it with a
  signal either does nothing (ignored signals do not interrupt a system call) or raises in the
  program (SIGINT).

So the default is a bootstrap shared library (see :mod:`livescope.attach.shim`): gdb calls only
``malloc``/``dlopen``/``dlsym``/``free`` and the library's ``livescope_attach_start``, which
creates a thread and returns. The new thread waits for the GIL like any other thread, so the
bootstrap runs when the interpreter switches threads - between bytecodes of a busy thread, or at
once when every thread sits in a blocking call with the GIL released. Those few libc calls run
on a thread chosen to be safe for them: one stopped inside a system call (it holds no libc lock
at that instant), else one executing outside libc and the dynamic loader; other threads keep
running during the calls, so locks they hold are released as usual. If no thread is in such a
state, the attach is retried after a short pause.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

RESULT_MARK = "LIVESCOPE-RESULT"
RETRY_MARK = "LIVESCOPE-RETRY"

# Runs inside gdb's own Python. Parameters come through gdb's environment.
GDB_SCRIPT = r"""
import os, re, gdb

RTLD_NOW, RTLD_NOLOAD = 2, 4
UNSAFE_LIBS = re.compile(r"/(libc|ld-linux[^/]*|libpthread|libdl)[.-][^/]*$")
inferior = gdb.selected_inferior()


def value(expr):
    return int(gdb.parse_and_eval(expr))


def call_void(function, argument):
    # a void function, whether or not gdb has debug information for it
    try:
        gdb.parse_and_eval("%s(%d)" % (function, argument))
    except gdb.error:
        gdb.parse_and_eval("(void)%s(%d)" % (function, argument))


def in_syscall(pc):
    for size, code in ((2, b"\x0f\x05"), (4, b"\x01\x00\x00\xd4")):  # x86-64 / aarch64
        try:
            if bytes(inferior.read_memory(pc - size, size)) == code:
                return True
        except gdb.MemoryError:
            pass
    return False


def safe_thread():
    running_code = None
    for thread in sorted(inferior.threads(), key=lambda t: t.num):
        thread.switch()
        pc = value("$pc")
        if in_syscall(pc):
            return thread
        if running_code is None and not UNSAFE_LIBS.search(gdb.solib_name(pc) or ""):
            running_code = thread
    return running_code


def c_string(buf, text):
    inferior.write_memory(buf, text.encode() + b"\0")
    return buf


def inject_library(path):
    thread = safe_thread()
    if thread is None:
        print("LIVESCOPE-RETRY every thread is inside libc or the dynamic loader")
        return
    thread.switch()
    buf = value("(void*)malloc(4096)")
    try:
        c_string(buf, path)
        handle = value("(void*)dlopen((char*)%d, %d)" % (buf, RTLD_NOW | RTLD_NOLOAD))
        reused = handle != 0
        if not reused:
            handle = value("(void*)dlopen((char*)%d, %d)" % (buf, RTLD_NOW))
        if not handle:
            error = gdb.parse_and_eval("(char*)dlerror()").string()
            print("LIVESCOPE-RESULT dlopen-failed", error)
            return
        c_string(buf, "livescope_attach_start")
        entry = value("(void*)dlsym((void*)%d, (char*)%d)" % (handle, buf))
        rc = value("((int(*)(void))%d)()" % entry) if entry else -4
        if reused:
            value("(int)dlclose((void*)%d)" % handle)
        print("LIVESCOPE-RESULT", rc)
    finally:
        call_void("free", buf)


def inject_unsafe(code):
    inferior.threads()[-1].switch()  # the main thread (threads() lists newest first)
    buf = value("(void*)malloc(%d)" % (len(code.encode()) + 1))
    try:
        c_string(buf, code)
        state = value("(int)PyGILState_Ensure()")
        rc = value("(int)PyRun_SimpleString((char*)%d)" % buf)
        call_void("PyGILState_Release", state)
        print("LIVESCOPE-RESULT", rc)
    finally:
        call_void("free", buf)


try:
    if os.environ["LIVESCOPE_MODE"] == "unsafe":
        inject_unsafe(os.environ["LIVESCOPE_CODE"])
    else:
        inject_library(os.environ["LIVESCOPE_SHIM"])
except gdb.error as exc:
    print("LIVESCOPE-RESULT gdb-error", exc)
"""


class GdbError(RuntimeError):
    """gdb is missing, could not attach, or the injection failed; the message says which."""


class GdbRetry(GdbError):
    """No thread was at a point where the injection calls are safe; try again shortly."""


def find_gdb() -> str:
    gdb = shutil.which("gdb")
    if not gdb:
        raise GdbError("gdb is needed to attach to this Python version: apt-get install gdb")
    return gdb


def run_gdb(pid: int, *, shim: Path | None, unsafe_code: str | None, timeout: float) -> None:
    """Inject into ``pid``: load ``shim`` and start its thread, or run ``unsafe_code`` directly."""
    gdb = find_gdb()
    with tempfile.NamedTemporaryFile("w", suffix=".py", prefix="livescope-gdb-") as script:
        script.write(GDB_SCRIPT)
        script.flush()
        env = dict(os.environ, DEBUGINFOD_URLS="", LIVESCOPE_MODE="unsafe" if unsafe_code else "")
        env.update(LIVESCOPE_SHIM=str(shim or ""), LIVESCOPE_CODE=unsafe_code or "")
        command = [gdb, "-p", str(pid), "-batch", "-nx", "-iex", "set auto-load off"]
        command += ["-iex", "set debuginfod enabled off", "-ex", f"source {script.name}"]
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)  # gdb detaches from an attached process on exit
            try:
                proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            os.kill(pid, signal.SIGCONT)
            raise GdbError(f"gdb did not finish the injection within {timeout:.1f}s") from None
    _check_output(pid, out, err, unsafe=bool(unsafe_code))


def _check_output(pid: int, out: str, err: str, *, unsafe: bool) -> None:
    for line in out.splitlines():
        if line.startswith(RETRY_MARK):
            raise GdbRetry(line[len(RETRY_MARK) :].strip())
        if line.startswith(RESULT_MARK):
            result = line[len(RESULT_MARK) :].strip()
            if result == "0" or unsafe:
                return  # unsafe: the bootstrap itself reports through its status file
            from livescope.attach.shim import START_ERRORS

            code = int(result) if result.lstrip("-").isdigit() else None
            raise GdbError(START_ERRORS.get(code, f"injection failed: {result}"))
    if "ptrace: Operation not permitted" in err:
        raise GdbError(
            f"permission denied: ptrace of {pid} refused (another user, Yama ptrace_scope, or a"
            " container without CAP_SYS_PTRACE: run with --cap-add=SYS_PTRACE)"
        )
    detail = "\n".join(line for line in err.splitlines() if line.strip())[-800:]
    raise GdbError(f"gdb could not inject into {pid}: {detail or 'no output'}")
