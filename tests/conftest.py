"""Fixtures shared by every test: target processes cleaned up by pid, the machine's Pythons."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.pty_console import PtyConsole
from support.pythons import available_pythons
from support.targets import Target

PYTHONS = available_pythons()


def pytest_report_header(config: pytest.Config) -> str:
    return "target interpreters: " + ", ".join(f"{v} ({p})" for v, p in PYTHONS.items())


@pytest.fixture
def make_target() -> Iterator[Callable[..., Target]]:
    """Start real target processes; every one is killed (by its pid) when the test ends."""
    started: list[Target] = []

    def factory(source: str, **kwargs: object) -> Target:
        target = Target(source, **kwargs)  # type: ignore[arg-type]
        started.append(target)
        return target

    yield factory
    for target in started:
        target.close()


@pytest.fixture(params=list(PYTHONS), ids=[f"py{v}" for v in PYTHONS])
def any_python(request: pytest.FixtureRequest) -> str:
    """Parametrises a test over every CPython interpreter the machine has."""
    return PYTHONS[request.param]


@pytest.fixture
def pty_console(tmp_path: Path) -> Iterator[Callable[..., PtyConsole]]:
    """``livescope ARGS`` on a pseudo-terminal (HOME in the test's directory); every one is
    killed (by its process group) when the test ends."""
    started: list[PtyConsole] = []

    def start(*args: str) -> PtyConsole:
        started.append(PtyConsole([sys.executable, "-m", "livescope", *args], tmp_path))
        return started[-1]

    yield start
    for console in started:
        console.close()
