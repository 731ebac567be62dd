"""Real mesh node and redis-server processes for the mesh tests, each killed by its pid."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} never opened")


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class MeshNode:
    """``python -m livescope mesh`` on two free ports."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.api_port = free_port()
        self.client_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        cmd = [sys.executable, "-m", "livescope", "mesh", "--api-port", str(self.api_port)]
        cmd += ["--client-port", str(self.client_port), *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        _wait_port(self.api_port, self.proc)
        _wait_port(self.client_port, self.proc)

    @property
    def api_ws(self) -> str:
        return f"ws://127.0.0.1:{self.api_port}/ws/v1"

    def client_url(self, path: str = "/chat") -> str:
        return f"ws://127.0.0.1:{self.client_port}{path}"

    def http(self, method: str, path: str, body: Any = None, headers: dict | None = None) -> Any:
        data = (
            None
            if body is None
            else (body if isinstance(body, bytes) else json.dumps(body).encode())
        )
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}{path}",
            data=data,
            method=method,
            headers=headers or {},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
        return raw.decode() if path == "/metrics" else json.loads(raw)

    def post(self, path: str, body: Any, headers: dict | None = None) -> Any:
        return self.http("POST", path, body, headers)

    def kill(self) -> None:
        if self.proc is not None:
            _kill(self.proc)


class RedisServer:
    """A throw-away redis-server on a free port, nothing persisted."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        cmd = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        cmd += ["--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, self.proc)

    def kill(self) -> None:
        if self.proc is not None:
            _kill(self.proc)
