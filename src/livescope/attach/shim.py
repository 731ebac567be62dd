"""The bootstrap shared library: a new thread in the target that takes the GIL and runs Python.

gdb loads it with ``dlopen`` and calls ``livescope_attach_start()``, which only creates a
detached thread and returns. That thread calls ``PyGILState_Ensure()`` - so Python code runs
only once the interpreter hands the GIL over at one of its own switch points, never at the
instruction where gdb stopped a thread - then runs the bootstrap file written for this process
(``boot-<pid>.py`` beside the library) and releases the GIL.

The library is compiled once per livescope version and user, with the machine's C compiler,
into the agent path directory. It stays mapped in a target after its first attach (a library
cannot be unloaded while the thread it started may still be running in it); later attaches
reuse it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SHIM_NAME = "livescope_attach-2.so"  # bump when SOURCE changes
ENTRY_POINT = "livescope_attach_start"

SOURCE = r"""
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

typedef int (*int_void_fn)(void);
typedef void (*void_int_fn)(int);
typedef int (*run_fn)(const char *);

static int_void_fn gil_ensure;
static void_int_fn gil_release;
static run_fn run_string;

static void *boot_thread(void *unused) {
    char code[4096];
    int state;
    (void)unused;
    snprintf(code, sizeof code,
             "try:\n exec(compile(open('%s/boot-%d.py','rb').read(),'%s/boot-%d.py','exec'),"
             "{'__name__':'__livescope_boot__','__file__':'%s/boot-%d.py'})\n"
             "except OSError:\n pass\n",
             BOOT_DIR, (int)getpid(), BOOT_DIR, (int)getpid(), BOOT_DIR, (int)getpid());
    state = gil_ensure();
    run_string(code);
    gil_release(state);
    return NULL;
}

/* 0: thread started; -1: CPython API not found; -2: interpreter not initialised;
   -3: the thread could not be created. */
int livescope_attach_start(void) {
    int_void_fn initialized;
    pthread_t tid;
    pthread_attr_t attr;
    int rc;
    gil_ensure = (int_void_fn)dlsym(RTLD_DEFAULT, "PyGILState_Ensure");
    gil_release = (void_int_fn)dlsym(RTLD_DEFAULT, "PyGILState_Release");
    run_string = (run_fn)dlsym(RTLD_DEFAULT, "PyRun_SimpleString");
    initialized = (int_void_fn)dlsym(RTLD_DEFAULT, "Py_IsInitialized");
    if (!gil_ensure || !gil_release || !run_string || !initialized) return -1;
    if (!initialized()) return -2;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&tid, &attr, boot_thread, NULL);
    pthread_attr_destroy(&attr);
    return rc == 0 ? 0 : -3;
}
"""

START_ERRORS = {
    -1: "the CPython C API is not visible from the target's global symbols",
    -2: "the target's interpreter is not initialised (starting up or shutting down)",
    -3: "the target could not create a thread",
}


class ShimBuildError(RuntimeError):
    """The bootstrap library could not be compiled (no C compiler, or it failed)."""


def ensure_shim(directory: Path) -> Path:
    """Return the compiled library in ``directory``, building it first if it is missing."""
    target = directory / SHIM_NAME
    if target.exists():
        return target
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        raise ShimBuildError(
            "no C compiler to build the attach library (install one: apt-get install gcc),"
            " or use --unsafe"
        )
    source = directory / "livescope_attach.c"
    source.write_text(SOURCE)
    partial = directory / f".{SHIM_NAME}.{os.getpid()}"
    result = subprocess.run(
        [
            compiler,
            "-shared",
            "-fPIC",
            "-O2",
            f'-DBOOT_DIR="{directory}"',
            "-o",
            str(partial),
            str(source),
            "-lpthread",
            "-ldl",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise ShimBuildError(f"building the attach library failed:\n{result.stderr.strip()}")
    partial.chmod(0o755)
    os.replace(partial, target)
    return target
