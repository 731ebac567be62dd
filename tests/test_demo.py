"""The demo program: ``demo.MathGame`` behaves like Arthas's math-game, ``livescope demo`` runs it."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from livescope.demo.cli import DEMO_DIR
from support.targets import free_port, wait_for_port

LIVESCOPE = [sys.executable, "-m", "livescope"]


def load_demo():
    spec = importlib.util.spec_from_file_location("demo", DEMO_DIR / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prime_factors_like_math_game():
    game = load_demo().MathGame(seed=1)
    assert game.primeFactors(360) == [2, 2, 2, 3, 3, 5]
    assert game.primeFactors(2) == [2]
    assert game.primeFactors(65108) == [2, 2, 41, 397]
    with pytest.raises(ValueError, match=r"^number is: -170365, need >= 2$"):
        game.primeFactors(-170365)
    with pytest.raises(ValueError, match="number is: 1, need >= 2"):
        game.primeFactors(1)
    assert game.illegal_argument_count == 2


def test_rounds_print_results_and_errors(capsys):
    game = load_demo().MathGame(seed=7)
    for _ in range(40):
        game.run()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 40
    products = [line for line in lines if "=" in line and "illegal" not in line]
    errors = [line for line in lines if line.startswith("illegalArgumentCount:")]
    assert products and errors, lines  # random numbers are negative about half the time
    for line in products:
        number, factors = line.split("=")
        product = 1
        for f in factors.split("*"):
            product *= int(f)
        assert product == int(number)
    assert re.fullmatch(r"illegalArgumentCount:\s+1, number is: -?\d+, need >= 2", errors[0])


class Demo:
    """``livescope demo --no-console`` in its own process group, killed by pid at the end."""

    def __init__(self, port: int) -> None:
        self.log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"demo-{port}.log", "w+b")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*LIVESCOPE, "demo", "--no-console", "--port", str(port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.log.close()


@pytest.fixture
def demo_factory():
    started: list[Demo] = []

    def start(port: int) -> Demo:
        started.append(Demo(port))
        return started[-1]

    yield start
    for demo in started:
        demo.close()


def wait_output(demo: Demo, pattern: str, timeout: float = 15.0) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, demo.output(), re.MULTILINE)
        if match:
            return match
        time.sleep(0.1)
    raise AssertionError(f"{pattern!r} not in demo output:\n{demo.output()}")


def test_demo_runs_with_agent(demo_factory):
    port = free_port()
    demo = demo_factory(port)
    wait_for_port(port, proc=demo.proc)
    reply = httpx.post(
        f"http://127.0.0.1:{port}/api", json={"action": "exec", "command": "version"}
    )
    assert reply.json()["body"]["results"][0]["type"] == "version"
    # math-game output appears about once a second, products and refusals alike
    wait_output(demo, r"^-?\d+=\d+(\*\d+)*$|^illegalArgumentCount:")
    assert f"agent at http://127.0.0.1:{port}" in demo.output()
    # the target's sys.path starts with the demo directory, so `demo.MathGame` is the name
    path = httpx.post(
        f"http://127.0.0.1:{port}/api",
        json={"action": "exec", "command": "sysprop python.path"},
    ).json()["body"]["results"][0]
    assert str(DEMO_DIR) in str(path)


def test_demo_picks_another_port_when_taken(demo_factory):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        demo = demo_factory(taken)
        match = wait_output(demo, rf"port {taken} is taken, the demo agent uses port (\d+)")
        other = int(match.group(1))
        assert other != taken
        wait_for_port(other, proc=demo.proc)


def test_killing_livescope_demo_stops_the_demo(demo_factory):
    port = free_port()
    demo = demo_factory(port)
    wait_for_port(port, proc=demo.proc)
    demo.proc.send_signal(signal.SIGTERM)  # the parent only, not its process group
    assert demo.proc.wait(10) == 143
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return
        time.sleep(0.1)
    raise AssertionError("the demo process still listens after livescope demo was killed")
