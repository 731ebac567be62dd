"""The CPython interpreters this machine has, so instrumentation and attach tests run on each."""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
from functools import cache

SUPPORTED = ("3.10", "3.11", "3.12", "3.13", "3.14")


@cache
def available_pythons() -> dict[str, str]:
    """Minor version -> interpreter path, for every supported CPython found (pyenv, PATH)."""
    found: dict[str, str] = {}
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3")))
    candidates += [f"/usr/bin/python{v}" for v in SUPPORTED]
    candidates.append(sys.executable)
    for path in candidates:
        if not os.path.exists(path):
            continue
        try:
            out = subprocess.run(
                [
                    path,
                    "-c",
                    "import sys, platform; print(platform.python_implementation(),"
                    " '%d.%d' % sys.version_info[:2])",
                ],
                capture_output=True,
                text=True,
                timeout=20,
                check=True,
            ).stdout.split()
        except (OSError, subprocess.SubprocessError):
            continue
        if len(out) == 2 and out[0] == "CPython" and out[1] in SUPPORTED:
            found.setdefault(out[1], path)
    return dict(sorted(found.items(), key=lambda kv: tuple(map(int, kv[0].split(".")))))


def version_of(path: str) -> tuple[int, int]:
    match = re.search(
        r"(\d+)\.(\d+)",
        subprocess.run(
            [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout,
    )
    assert match
    return int(match.group(1)), int(match.group(2))
