"""What can be read about a process from ``/proc`` without touching it.

Used before an attach (is it Python, which version, may we ptrace it, does it live in another
root), by ``livescope ps``, and to say what a target's threads are doing when it did not take
the bootstrap in time.

A target in a chroot or a container sees files under its own root: paths the kernel shows us
(``/proc/PID/exe``, ``maps``) are relative to *our* root or, for a mount namespace we are not in,
to the root of that namespace; :meth:`ProcessInfo.reach` and :meth:`ProcessInfo.inside` go
between the two views.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
_VERSION_RE = re.compile(r"(?:libpython|python)(\d+)\.(\d+)")
CAP_SYS_PTRACE = 19


@dataclass
class ProcessInfo:
    pid: int
    uid: int
    exe: str
    cmdline: list[str]
    version: tuple[int, int] | None = None
    listening: list[tuple[str, int]] = field(default_factory=list)
    root: str = "/"  # the target's root directory, as /proc/PID/root names it to us
    foreign_root: bool = False  # chroot or container: its "/" is not ours
    own_mounts: bool = True  # in our mount namespace (a chroot), not another one (a container)
    nspid: int = 0  # its pid inside its own pid namespace
    readable: bool = True  # False: another user's process, whose exe, maps and fds are closed

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version)) if self.version else "?"

    def reach(self, path: str) -> Path:
        """Where we open the file the target calls ``path``."""
        return Path(f"/proc/{self.pid}/root{path}") if self.foreign_root else Path(path)

    def inside(self, path: str) -> str:
        """The name the target gives a file of its root that /proc shows us as ``path``."""
        if self.root != "/" and path.startswith(self.root + "/"):
            return path[len(self.root) :]
        return path


class ProcessError(Exception):
    """A process cannot be inspected or attached; the message says why and what to do."""


def _read(path: Path) -> str:
    return path.read_text(errors="replace")


def python_version(pid: int, exe: str) -> tuple[int, int] | None:
    """The CPython version the process runs: its libpython mapping, else its executable's name."""
    with contextlib.suppress(OSError):
        for line in _read(PROC / str(pid) / "maps").splitlines():
            if "libpython" in line:
                match = _VERSION_RE.search(line.rsplit("/", 1)[-1])
                if match:
                    return int(match.group(1)), int(match.group(2))
    match = _VERSION_RE.search(os.path.basename(exe))
    return (int(match.group(1)), int(match.group(2))) if match else None


def looks_like_python(cmdline: list[str]) -> bool:
    """Whether a command line (readable for every process) starts a Python interpreter."""
    return bool(cmdline) and re.fullmatch(r"python[\d.]*", os.path.basename(cmdline[0])) is not None


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(PROC / str(pid) / "fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(PROC / str(pid) / "fd" / fd)
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    return inodes


def _hex_address(text: str) -> str:
    if len(text) == 8:
        return ".".join(str(b) for b in reversed(bytes.fromhex(text)))
    return "::" if text.strip("0") == "" else "[ipv6]"


def listening_ports(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket the process listens on."""
    inodes = _socket_inodes(pid)
    found = []
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in _read(PROC / str(pid) / "net" / table).splitlines()[1:]:
                cols = line.split()
                if len(cols) > 9 and cols[3] == "0A" and cols[9] in inodes:
                    address, port = cols[1].split(":")
                    found.append((_hex_address(address), int(port, 16)))
    return sorted(set(found), key=lambda item: item[1])


def inspect(pid: int, *, ports: bool = True) -> ProcessInfo:
    """Everything ``/proc`` tells about ``pid`` (``ports``: its listening ports too, a scan of
    the machine's TCP table); raises ProcessError if it does not exist."""
    base = PROC / str(pid)
    try:
        status = _read(base / "status")
    except FileNotFoundError:
        raise ProcessError(f"no such process: {pid}") from None
    uid = int(re.search(r"^Uid:\s+\d+\s+(\d+)", status, re.M).group(1))
    readable = True
    try:
        exe = os.readlink(base / "exe")
    except PermissionError:
        exe, readable = "", False
    except OSError:
        exe = ""
    try:
        cmdline = [arg for arg in _read(base / "cmdline").split("\0") if arg]
    except OSError:
        cmdline = []
    info = ProcessInfo(pid=pid, uid=uid, exe=exe, cmdline=cmdline, readable=readable)
    # another user's exe link is closed: its command line names the interpreter instead
    interpreter = exe if readable else next(iter(cmdline), "")
    info.version = python_version(pid, interpreter)
    info.listening = listening_ports(pid) if ports else []
    nspid = re.search(r"^NSpid:\s+([\d\t ]+)$", status, re.M)
    info.nspid = int(nspid.group(1).split()[-1]) if nspid else pid
    with contextlib.suppress(OSError):  # needs the right to ptrace it: else taken as ours
        info.root = os.readlink(base / "root")
        theirs, ours = os.stat(base / "root"), os.stat(PROC / "self" / "root")
        info.foreign_root = (theirs.st_dev, theirs.st_ino) != (ours.st_dev, ours.st_ino)
        info.own_mounts = os.readlink(base / "ns" / "mnt") == os.readlink(PROC / "self/ns/mnt")
    return info


def ptrace_problem(info: ProcessInfo) -> str | None:
    """Why this user may not ptrace the process (with the fix), or None if it may."""
    capabilities = int(
        re.search(r"^CapEff:\s+([0-9a-f]+)", _read(PROC / "self" / "status"), re.M).group(1), 16
    )
    try:
        scope = int(_read(PROC / "sys" / "kernel" / "yama" / "ptrace_scope"))
    except (OSError, ValueError):
        scope = 0  # no Yama: only the usual same-user rule
    return ptrace_verdict(
        pid=info.pid,
        target_uid=info.uid,
        our_uid=os.geteuid(),
        privileged=bool(capabilities & (1 << CAP_SYS_PTRACE)),
        yama_scope=scope,
        descendant=_is_descendant(info.pid),
    )


def ptrace_verdict(
    *, pid: int, target_uid: int, our_uid: int, privileged: bool, yama_scope: int, descendant: bool
) -> str | None:
    """The kernel's ptrace rules (Yama's ``ptrace_scope`` among them) applied to one attach:
    None when it is allowed, else what stops it and the fix to apply. ``privileged``: we hold
    CAP_SYS_PTRACE, which root outside a container has and inside one often lacks."""
    as_owner = f"sudo -u '#{target_uid}' livescope attach {pid}"
    if yama_scope >= 3:
        return "ptrace is disabled on this machine (kernel.yama.ptrace_scope=3); it needs a reboot"
    if target_uid != our_uid and not privileged:
        if our_uid == 0:
            return (
                f"permission denied: process {pid} belongs to uid {target_uid} and this root has"
                " no CAP_SYS_PTRACE (a container started without it): start the container with"
                f" --cap-add=SYS_PTRACE, or attach as the process's user: {as_owner}"
            )
        return (
            f"permission denied: process {pid} belongs to uid {target_uid}; run the attach as"
            f" that user ({as_owner}) or as root"
        )
    if yama_scope == 2 and not privileged:
        return (
            "permission denied by Yama (kernel.yama.ptrace_scope=2: only CAP_SYS_PTRACE may"
            f" attach): run as root (sudo livescope attach {pid}), or allow it with: sudo sysctl"
            " kernel.yama.ptrace_scope=1"
        )
    if yama_scope == 1 and not privileged and not descendant:
        return (
            "permission denied by Yama (kernel.yama.ptrace_scope=1: only a parent may attach):"
            f" run as root (sudo livescope attach {pid}), or allow it with: sudo sysctl"
            " kernel.yama.ptrace_scope=0"
        )
    return None


def _is_descendant(pid: int) -> bool:
    """Whether ``pid`` descends from this process (Yama's scope 1 lets a parent attach)."""
    me, seen = os.getpid(), set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        try:
            status = _read(PROC / str(pid) / "status")
        except OSError:
            return False
        pid = int(re.search(r"^PPid:\s+(\d+)", status, re.M).group(1))
        if pid == me:
            return True
    return False


def thread_states(pid: int) -> list[str]:
    """One line per thread: id, name, scheduler state and the kernel function it waits in."""
    lines = []
    with contextlib.suppress(OSError):
        for tid in sorted(os.listdir(PROC / str(pid) / "task"), key=int):
            task = PROC / str(pid) / "task" / tid
            with contextlib.suppress(OSError):
                stat_text = _read(task / "stat")
                name = stat_text[stat_text.index("(") + 1 : stat_text.rindex(")")]
                state = stat_text[stat_text.rindex(")") + 2]
                wchan = ""
                with contextlib.suppress(OSError):
                    wchan = _read(task / "wchan").strip()
                lines.append(f"thread {tid} ({name}): state {state}, waiting in {wchan or '-'}")
    return lines


def python_processes() -> list[ProcessInfo]:
    """Every process on the machine that runs CPython; another user's is known only by its
    command line (its version only if the interpreter's name carries it)."""
    found = []
    for entry in os.listdir(PROC):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        with contextlib.suppress(ProcessError, OSError, AttributeError):
            info = inspect(int(entry))
            if info.version or (not info.readable and looks_like_python(info.cmdline)):
                found.append(info)
    return sorted(found, key=lambda info: info.pid)
