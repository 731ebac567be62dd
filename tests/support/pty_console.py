"""A command run on a pseudo-terminal, for tests that drive the interactive console."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path


class PtyConsole:
    """A command run on a pseudo-terminal, as a user's shell runs it; killed by pid at close."""

    def __init__(self, argv: list[str], home: Path) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = {**os.environ, "HOME": str(home), "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"}
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            # the pty becomes the controlling terminal, so Ctrl-C there is a SIGINT
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.master = master
        self.seen = ""

    def read_until(self, needle: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{needle!r} never appeared; screen so far:\n{self.seen}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if ready:
                try:
                    self.seen += os.read(self.master, 65536).decode(errors="replace")
                except OSError:  # the console exited and closed the terminal
                    if needle not in self.seen:
                        raise AssertionError(f"{needle!r} not printed:\n{self.seen}") from None
        return self.seen

    def drain(self, seconds: float) -> str:
        """Read whatever the terminal shows during ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536).decode(errors="replace")
                except OSError:
                    break
        return self.seen

    def send(self, data: str) -> None:
        os.write(self.master, data.encode())

    def type_line(self, line: str, then: str) -> None:
        mark = len(self.seen)
        self.send(line + "\r")
        self.read_until(then)
        assert then in self.seen[mark:] or then in self.seen

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        os.close(self.master)
