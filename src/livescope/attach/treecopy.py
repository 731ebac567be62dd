"""Keep a directory a copy of another, for the agent's packages inside a target's other root.

Links to this installation's packages mean nothing in a chroot or a container, so such a target
imports from copies. They are brought in step at every attach (an editable install changes under
them): only new and changed files are copied, each replaced atomically so a target importing
meanwhile never reads half a file, and files no longer in the source are removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

SKIPPED_DIRS = ("__pycache__",)


def _files(top: Path) -> set[Path]:
    found = set()
    for directory, subdirs, names in os.walk(top):
        subdirs[:] = [name for name in subdirs if name not in SKIPPED_DIRS]
        relative = Path(directory).relative_to(top)
        found.update(relative / name for name in names if not name.endswith(".pyc"))
    return found


def _same(source: os.stat_result, copy: Path) -> bool:
    try:
        existing = copy.stat()
    except FileNotFoundError:
        return False
    return (existing.st_size, existing.st_mtime_ns) == (source.st_size, source.st_mtime_ns)


def copy_file(original: Path, copy: Path) -> None:
    """Copy a file unless ``copy`` is one already. An unchanged copy keeps its inode: a library
    a target has loaded stays the file ``maps`` shows, not a deleted one."""
    if _same(original.stat(), copy):
        return
    partial = copy.with_name(f".{copy.name}.{os.getpid()}")
    shutil.copy2(original, partial)  # keeps the mtime that _same compares next time
    os.replace(partial, copy)


def sync_tree(source: Path, target: Path) -> None:
    """Make ``target`` a copy of the directory ``source``, leaving out compiled bytecode."""
    wanted = _files(source)
    for relative in sorted(wanted):
        (target / relative).parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        copy_file(source / relative, target / relative)
    for relative in _files(target) - wanted:
        with contextlib.suppress(FileNotFoundError):
            (target / relative).unlink()
