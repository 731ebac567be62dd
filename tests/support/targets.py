"""Real target processes for tests: a Python program with the agent started inside it.

A target runs any interpreter the machine has. Its ``PYTHONPATH`` holds only a directory of
links to livescope and the agent's two protocol libraries, as a user's process would see an
agent that is installed elsewhere.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from functools import cache
from pathlib import Path
from typing import Any

import httpx

SRC = Path(__file__).resolve().parents[2] / "src"
AGENT_PACKAGES = ("livescope", "h11", "wsproto")


@cache
def agent_pythonpath() -> str:
    """A directory holding links to exactly the packages the agent needs inside a target."""
    root = Path(tempfile.mkdtemp(prefix="livescope-agentpath-"))
    atexit.register(shutil.rmtree, root, True)  # links only: the packages themselves stay
    for name in AGENT_PACKAGES:
        if name == "livescope":
            origin = SRC / "livescope"
        else:
            spec = importlib.util.find_spec(name)
            assert spec and spec.origin, f"{name} is not installed"
            origin = Path(spec.origin).parent
        (root / name).symlink_to(origin, target_is_directory=True)
    return str(root)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"target exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


AGENT_PREAMBLE = """\
import os as _os, livescope as _livescope
_livescope.start(port=int(_os.environ["LIVESCOPE_TEST_PORT"]){start_kwargs})
"""


class Target:
    """One target process. Use as a context manager or call :meth:`close`; it is killed by pid."""

    def __init__(
        self,
        source: str,
        *,
        python: str = sys.executable,
        agent: bool = True,
        start_kwargs: str = "",
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        port: int | None = None,
    ) -> None:
        self.python = python
        self.port = port or free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="livescope-target-"))
        body = textwrap.dedent(source)
        if agent:
            body = AGENT_PREAMBLE.format(start_kwargs=start_kwargs) + body
        self.script = self.workdir / "target_main.py"
        self.script.write_text(body)
        full_env = dict(os.environ)
        full_env.update(
            PYTHONPATH=os.pathsep.join([agent_pythonpath(), str(self.workdir)]),
            LIVESCOPE_TEST_PORT=str(self.port),
            PYTHONUNBUFFERED="1",
        )
        full_env.pop("PYTHONHOME", None)
        full_env.update(env or {})
        self.stdout_path = self.workdir / "stdout.txt"
        self._stdout = open(self.stdout_path, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [python, str(self.script)],
            cwd=cwd or str(self.workdir),
            env=full_env,
            stdout=self._stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.proc.pid
        if agent:
            wait_for_port(self.port, proc=self.proc)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        self._stdout.flush()
        return self.stdout_path.read_text(errors="replace")

    def reports(self, key: str) -> list[int]:
        """Every ``key=N`` the target printed, in order. Matched anywhere in the output, since
        another thread's print may land between a report and its newline."""
        return [int(n) for n in re.findall(rf"{re.escape(key)}=(\d+)", self.output())]

    def wait_for_output(self, text: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} not printed; output:\n{self.output()}")
            if self.proc.poll() is not None and text not in self.output():
                raise RuntimeError(f"target exited; output:\n{self.output()}")
            time.sleep(0.05)

    def api(self, payload: dict[str, Any] | str | bytes, timeout: float = 60.0) -> dict:
        """POST one request to /api and return the decoded JSON body."""
        data = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
        response = httpx.post(self.url + "/api", content=data, timeout=timeout)
        response.raise_for_status()
        return response.json()

    def exec(self, command: str, **fields: Any) -> dict:
        return self.api({"action": "exec", "command": command, **fields})

    def results(self, command: str, **fields: Any) -> list[dict]:
        """One-shot exec; the result items (asserting the request itself succeeded)."""
        reply = self.exec(command, **fields)
        assert reply["state"] in ("SUCCEEDED", "INTERRUPTED"), reply
        return reply["body"]["results"]

    def wait_exit(self, timeout: float = 10.0) -> int:
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._stdout.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
