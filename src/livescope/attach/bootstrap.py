"""What goes into the target: an agent path directory and a tiny bootstrap script.

The agent path directory (``/tmp/livescope-agentpath-<uid>-<version>``) holds only links to
the ``livescope``, ``h11`` and ``wsproto`` packages of the installation doing the attach, so
the agent is importable in a target whose own environment does not have livescope (pipx,
another venv); the target's site-packages are never written to. The bootstrap loads
``livescope`` from that directory - the attaching installation's, even where the program could
import another one - and appends the directory to ``sys.path`` only for the time of the start
(``h11`` and ``wsproto`` of the program's own, if it has them, win; the packages' own
``__path__`` serves later lazy imports), starts the agent thread, and reports ok or the error
in a status file that the attaching side waits for.

A target in another root (a chroot, a container) cannot follow links into ours: it gets copies
of the packages in ``/tmp/livescope-agent-<uid>-<version>``, kept here and mirrored to the same
path inside its root, with its boot script and the bootstrap library beside them. Being the
same path on both sides lets every name handed to the target (the boot script, the library and
the directory compiled into it) be one that also exists here, as ``sys.remote_exec`` checks.
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
from livescope.attach import procinfo
from livescope.attach.treecopy import copy_file, sync_tree

AGENT_PACKAGES = ("livescope", "h11", "wsproto")

BOOT_TEMPLATE = """\
def _livescope_boot(agent_path, status_path, host, port, password, options=None, any_port=False,
                    stacks=False):
    import errno, json, os, sys, traceback
    try:
        os.unlink(__file__)  # run once, even if a bootstrap thread of an earlier attach wakes
    except (OSError, NameError):
        pass
    try:
        # One run per attach, even with two ways in (sys.remote_exec, then the library's
        # thread) and a target not allowed to remove the script; gone once the attach is over.
        os.mkdir(os.path.join(os.path.dirname(status_path), "claimed"))
    except OSError:
        return
    result = {"pid": os.getpid()}
    if stacks:  # run on a hijacked thread: where every thread stands, the GIL holder among them
        import threading
        names = {t.ident: "%s (%s)" % (t.native_id, t.name) for t in threading.enumerate()}
        result["stacks"] = []
        for ident, frame in sys._current_frames().items():
            entries = traceback.extract_stack(frame)
            while entries and entries[-1].filename in (__file__, "<string>"):
                entries.pop()  # the bootstrap's own frames, on the hijacked thread
            text = "".join(traceback.format_list(entries)).rstrip()
            result["stacks"].append("thread %s:\\n%s" % (names.get(ident, ident), text))
    added = agent_path not in sys.path
    interval = sys.getswitchinterval()
    try:
        # Starting the agent releases and re-takes the GIL hundreds of times (file reads of
        # imports, thread hand-offs); among busy threads each re-take waits a switch interval.
        sys.setswitchinterval(min(interval, 0.0001))
        if added:
            sys.path.append(agent_path)  # h11 and wsproto: the program's own copies win
        livescope = sys.modules.get("livescope")
        if livescope is None:  # ours, even where the program can import another livescope
            import importlib.machinery, importlib.util
            spec = importlib.machinery.PathFinder.find_spec("livescope", [agent_path])
            livescope = importlib.util.module_from_spec(spec)
            sys.modules["livescope"] = livescope
            try:
                spec.loader.exec_module(livescope)
            except BaseException:
                del sys.modules["livescope"]
                raise
        try:
            agent = livescope.start(host=host, port=port, password=password, **(options or {}))
        except OSError as exc:
            # the port was free when the attach chose it, but another process took it since
            if not any_port or exc.errno != errno.EADDRINUSE:
                raise
            agent = livescope.start(host=host, port=0, password=password, **(options or {}))
        result.update(ok=True, host=host, port=agent.port, version=livescope.__version__)
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


def _write_file(path: Path, text: str) -> None:
    """Write ``path`` (mode 0644) so that no reader sees it half written."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    partial.chmod(0o644)
    os.replace(partial, path)


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


def _package_origins() -> dict[str, Path]:
    origins = {}
    for name in AGENT_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"package {name} is not installed alongside livescope")
        origins[name] = Path(next(iter(spec.submodule_search_locations))).resolve()
    return origins


def agent_path() -> Path:
    """The agent path directory for this installation, (re)linking the three packages."""
    root = _own_directory(
        Path(tempfile.gettempdir()) / f"livescope-agentpath-{os.geteuid()}-{__version__}"
    )
    for name, origin in _package_origins().items():
        link = root / name
        if link.is_symlink() and Path(os.readlink(link)) == origin:
            continue
        partial = root / f".{name}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        partial.symlink_to(origin, target_is_directory=True)
        os.replace(partial, link)
    return root


def agent_copies() -> Path:
    """The copies of the three packages for targets in another root, brought up to date. Under
    /tmp whatever TMPDIR says: the path must exist inside the target's root as well."""
    root = _own_directory(Path("/tmp") / f"livescope-agent-{os.geteuid()}-{__version__}")
    for name, origin in _package_origins().items():
        sync_tree(origin, root / name)
    return root


@dataclass
class Bootstrap:
    """One prepared injection: the boot script for ``pid`` and the status file it will write."""

    pid: int
    boot_path: Path  # the target names it so too
    status_path: Path  # where we read it
    remote_dir: Path | None = None  # the agent directory in the target's other root

    @property
    def agent_dir(self) -> Path:
        return self.boot_path.parent

    def _copies(self, path: Path) -> list[Path]:
        return [path] + ([self.remote_dir / path.name] if self.remote_dir else [])

    def target_copy(self, path: Path) -> Path:
        """Where the file the target calls ``path`` is written: in its root, if another one."""
        return self._copies(path)[-1]

    def publish(self, path: Path) -> None:
        """Give a target in another root its copy of ``path``, a file of the agent directory."""
        if self.remote_dir is not None:
            copy_file(path, self.remote_dir / path.name)

    def write_script(self) -> Path:
        """A script file running the boot script, for ``sys.remote_exec`` (which takes a file).
        It removes itself when run; until then it stays, as the request may be taken late."""
        script = self.agent_dir / f"run-{self.pid}.py"
        unlink = f"import os\ntry:\n os.unlink({str(script)!r})\nexcept OSError:\n pass\n"
        for path in self._copies(script):
            _write_file(path, unlink + self.runner_code())
        return script

    def drop_script(self, *, inside: bool = True) -> None:
        """Remove the script of :meth:`write_script`: our copy, which only had to exist when
        ``remote_exec`` was called, and with ``inside`` the target's (no request is pending)."""
        copies = self._copies(self.agent_dir / f"run-{self.pid}.py")
        for path in copies if inside else copies[:-1]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def claimed(self) -> bool:
        """Whether the target has started running the boot script."""
        return (self.status_path.parent / "claimed").exists()

    def withdraw(self) -> None:
        """Remove the boot script: a way in that gets there late finds nothing to run."""
        for path in self._copies(self.boot_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

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
                return json.loads(self.status_path.read_text())
            if not alive():
                return None
            time.sleep(0.01)
        return None

    def cleanup(self) -> None:
        """Remove the boot script and the status directory. A way in that gets to the target
        later (a bootstrap thread waking, a request taken late) then has nothing to run, and
        without the status directory could not claim the run anyway."""
        self.withdraw()
        with contextlib.suppress(FileNotFoundError):
            self.status_path.unlink()
        with contextlib.suppress(OSError):
            (self.status_path.parent / "claimed").rmdir()
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
    any_port: bool = False,
    stacks: bool = False,
) -> tuple[Path, Bootstrap]:
    """Write the boot script for ``pid``; return the agent path directory (where the markers of
    started agents go) and the bootstrap.
    ``options`` are more keyword arguments of ``livescope.start`` (plain strings: ``mesh``);
    ``any_port``: if ``port`` is taken by the time the agent binds, it takes any free port;
    ``stacks``: the status also carries every thread's Python stack (``--unsafe``, where the
    script runs on a hijacked thread that may be the one holding the GIL)."""
    root = agent_path()
    target = procinfo.inspect(pid, ports=False)
    directory, remote_dir, temp = root, None, Path(tempfile.gettempdir())
    if target.foreign_root:
        temp = target.reach("/tmp")
        if not temp.is_dir():
            raise RuntimeError(f"the root of process {pid} ({target.root}) has no /tmp")
        directory = agent_copies()
        remote_dir = _own_directory(target.reach(str(directory)))
        for name in AGENT_PACKAGES:
            sync_tree(directory / name, remote_dir / name)
    status_dir = Path(tempfile.mkdtemp(prefix=f"livescope-status-{pid}-", dir=temp))
    if os.geteuid() == 0 and target_uid != 0:
        os.chown(status_dir, target_uid, -1)  # the target, running as its user, writes here
    status_dir.chmod(0o700)
    status_path = status_dir / "status.json"
    status_inside = f"/tmp/{status_dir.name}/status.json" if remote_dir else str(status_path)
    # named with the pid the target has in its own pid namespace: the library's thread
    # finds the script by getpid()
    boot = Bootstrap(pid, directory / f"boot-{target.nspid}.py", status_path, remote_dir)
    call = (str(directory), status_inside, host, port, password, options or {}, any_port, stacks)
    _write_file(boot.target_copy(boot.boot_path), BOOT_TEMPLATE + f"\n\n_livescope_boot{call!r}\n")
    return root, boot
