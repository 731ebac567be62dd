"""What goes into the target: an agent path directory and a tiny bootstrap script.

The agent path directory (``/tmp/livescope-agentpath-<uid>-<version>``) holds only links to
the ``livescope``, ``h11`` and ``wsproto`` packages of the installation doing the attach, so
the agent is importable in a target whose own environment does not have livescope (pipx,
another venv); the target's site-packages are never written to. The bootstrap appends that
directory to ``sys.path`` only for the time of the import (the packages' own ``__path__`` serves
later lazy imports), starts the agent thread, and reports ok or the error in a status file that
the attaching side waits for.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from livescope import __version__

AGENT_PACKAGES = ("livescope", "h11", "wsproto")

BOOT_TEMPLATE = """\
def _livescope_boot(agent_path, status_path, host, port, password, options=None):
    import json, os, sys, traceback
    try:
        os.unlink(__file__)  # run once, even if a bootstrap thread of an earlier attach wakes
    except (OSError, NameError):
        pass
    result = {"pid": os.getpid()}
    added = agent_path not in sys.path
    interval = sys.getswitchinterval()
    try:
        # Starting the agent releases and re-takes the GIL hundreds of times (file reads of
        # imports, thread hand-offs); among busy threads each re-take waits a switch interval.
        sys.setswitchinterval(min(interval, 0.0001))
        if added:
            sys.path.append(agent_path)
        import livescope
        livescope.start(host=host, port=port, password=password, **(options or {}))
        result.update(ok=True, host=host, port=port, version=livescope.__version__)
    except BaseException as exc:
        result.update(ok=False, error="%s: %s" % (type(exc).__name__, exc),
                      traceback=traceback.format_exc())
    finally:
        sys.setswitchinterval(interval)
        if added and agent_path in sys.path:
            sys.path.remove(agent_path)
    partial = "%s.%d.part" % (status_path, id(result))
    try:
        with open(partial, "w") as out:
            json.dump(result, out)
        os.replace(partial, status_path)
    except OSError:
        pass  # the attach gave up waiting and removed the status directory

"""


class UnsafeDirectoryError(RuntimeError):
    """A shared directory exists but is not ours alone: using it would let others inject code."""


def _own_directory(path: Path) -> Path:
    """Create ``path`` (mode 0755) or check an existing one belongs to us and is not writable
    by others, since its content ends up executed inside the target."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o755)
    info = path.lstat()
    if (
        not stat.S_ISDIR(info.st_mode)
        or info.st_uid != os.geteuid()
        or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    ):
        raise UnsafeDirectoryError(f"{path} is not a directory owned by you alone; remove it")
    return path


def agent_path() -> Path:
    """The agent path directory for this installation, (re)linking the three packages."""
    root = _own_directory(
        Path(tempfile.gettempdir()) / f"livescope-agentpath-{os.geteuid()}-{__version__}"
    )
    for name in AGENT_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"package {name} is not installed alongside livescope")
        origin = Path(next(iter(spec.submodule_search_locations))).resolve()
        link = root / name
        if link.is_symlink() and Path(os.readlink(link)) == origin:
            continue
        partial = root / f".{name}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        partial.symlink_to(origin, target_is_directory=True)
        os.replace(partial, link)
    return root


@dataclass
class Bootstrap:
    """One prepared injection: the boot script for ``pid`` and the status file it will write."""

    pid: int
    boot_path: Path
    status_path: Path
    taken: bool = False

    def runner_code(self) -> str:
        """One line of Python that runs the boot script in a namespace of its own."""
        path = str(self.boot_path)
        return (
            f"try:\n exec(compile(open({path!r},'rb').read(),{path!r},'exec'),"
            f"{{'__name__':'__livescope_boot__','__file__':{path!r}}})\nexcept OSError:\n pass\n"
        )

    def wait(self, timeout: float, alive: Callable[[], bool]) -> dict | None:
        """The status the target wrote, or None if it wrote none within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(FileNotFoundError, ValueError):
                status = json.loads(self.status_path.read_text())
                self.taken = True
                return status
            if not alive():
                return None
            time.sleep(0.01)
        return None

    def cleanup(self) -> None:
        """Remove the status file; the boot script too once the target has run it (a script
        not yet run was emptied by the caller and stays, harmless, until the next attach)."""
        paths = [self.status_path] + ([self.boot_path] if self.taken else [])
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        with contextlib.suppress(OSError):
            self.status_path.parent.rmdir()


def prepare(
    pid: int,
    *,
    host: str,
    port: int,
    password: str | None,
    target_uid: int,
    options: dict[str, str] | None = None,
) -> tuple[Path, Bootstrap]:
    """Write the boot script for ``pid``; return the agent path directory and the bootstrap.
    ``options`` are more keyword arguments of ``livescope.start`` (plain strings: ``mesh``)."""
    root = agent_path()
    status_dir = Path(tempfile.mkdtemp(prefix=f"livescope-status-{pid}-"))
    if os.geteuid() == 0 and target_uid != 0:
        os.chown(status_dir, target_uid, -1)  # the target, running as its user, writes here
    status_dir.chmod(0o700)
    status_path = status_dir / "status.json"
    boot_path = root / f"boot-{pid}.py"
    partial = root / f".boot-{pid}.{os.getpid()}"
    call = (str(root), str(status_path), host, port, password, options or {})
    partial.write_text(BOOT_TEMPLATE + f"\n\n_livescope_boot{call!r}\n")
    partial.chmod(0o644)
    os.replace(partial, boot_path)
    return root, Bootstrap(pid=pid, boot_path=boot_path, status_path=status_path)
