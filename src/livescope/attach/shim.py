"""The bootstrap shared library: a new thread in the target that takes the GIL and runs Python.

gdb loads it with ``dlopen`` and calls ``livescope_attach_start()``, which only creates a
detached thread and returns. That thread calls ``PyGILState_Ensure()`` - so Python code runs
only once the interpreter hands the GIL over at one of its own switch points, never at the
instruction where gdb stopped a thread - then runs the bootstrap file written for this process
(``boot-<pid>.py`` beside the library) and releases the GIL.

The library (``bootlib.c``) is built with the package, as the extension file
``livescope.attach._bootlib``; it holds no Python code and looks the C API up in the target, so
the one build serves every CPython version. Each attach copies it into the agent path directory,
beside the boot files it runs (it finds that directory from its own path). Where the package was
installed without it (no compiler at install time), it is compiled there on first use with the
machine's C compiler. It stays mapped in a target after its first attach (a library cannot be
unloaded while the thread it started may still be running in it); later attaches reuse it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

SHIM_NAME = "livescope_attach-3.so"  # bump when bootlib.c changes
ENTRY_POINT = "livescope_attach_start"
SOURCE = Path(__file__).with_name("bootlib.c")

START_ERRORS = {
    -1: "the CPython C API is not visible from the target's global symbols",
    -2: "the target's interpreter is not initialised (starting up or shutting down)",
    -3: "the target could not create a thread",
    -4: "the attach library could not find its own directory",
}


class ShimBuildError(RuntimeError):
    """The bootstrap library could not be compiled (no C compiler, or it failed)."""


def packaged_library() -> Path | None:
    """The library built when livescope was installed, if it was."""
    spec = importlib.util.find_spec("livescope.attach._bootlib")
    return Path(spec.origin) if spec is not None and spec.origin else None


def ensure_shim(directory: Path) -> Path:
    """Return the library in ``directory``: the packaged build copied there, or compiled."""
    target = directory / SHIM_NAME
    if target.exists():
        return target
    partial = directory / f".{SHIM_NAME}.{os.getpid()}"
    built = packaged_library()
    if built is not None:
        shutil.copyfile(built, partial)
    else:
        _compile(partial)
    partial.chmod(0o755)
    os.replace(partial, target)
    return target


def _compile(output: Path) -> None:
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        raise ShimBuildError(
            "livescope was installed without its attach library and there is no C compiler "
            "to build it (install one: apt-get install gcc), or use --unsafe"
        )
    command = [compiler, "-shared", "-fPIC", "-O2", "-o", str(output), str(SOURCE)]
    result = subprocess.run([*command, "-lpthread", "-ldl"], capture_output=True, text=True)
    if result.returncode != 0:
        raise ShimBuildError(f"building the attach library failed:\n{result.stderr.strip()}")
