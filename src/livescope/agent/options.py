"""The agent's global options (the ``options`` command views and changes them).

Each option is declared once here; the agent holds a plain dict of current values, which the
parts that use an option read each time, so a change takes effect at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

DEFAULT_SESSION_TIMEOUT = 10800  # seconds (3 h), as Arthas ships it


@dataclass(frozen=True)
class OptionSpec:
    name: str
    type: type
    default: Any
    summary: str
    description: str = ""
    level: int = 0
    env: str | None = None  # a variable whose positive whole number is the value at start


OPTION_SPECS: tuple[OptionSpec, ...] = (
    OptionSpec("json-format", bool, False, "Render object values as JSON text in the console"),
    OptionSpec(
        "unsafe", bool, False, "Allow enhancing functions of the standard library and livescope"
    ),
    OptionSpec("save-result", bool, False, "Save command results to livescope-output/result.log"),
    OptionSpec("job-timeout", str, "1d", "Time after which any job is ended (s, m, h, d suffixes)"),
    OptionSpec(
        "session-timeout",
        int,
        DEFAULT_SESSION_TIMEOUT,
        "Seconds after which an idle session without a foreground job is removed",
        env="LIVESCOPE_SESSION_TIMEOUT",
    ),
    OptionSpec("print-parent-fields", bool, True, "Show inherited attributes in sc -f"),
    OptionSpec("verbose", bool, False, "List every enhanced function in the enhancer result"),
    OptionSpec("strict", bool, True, "Refuse setting attributes through ognl expressions"),
)


def _start_value(spec: OptionSpec) -> Any:
    raw = os.environ.get(spec.env or "", "").strip()
    if not raw:
        return spec.default
    try:
        value = int(float(raw))
    except (ValueError, OverflowError):
        return spec.default
    return value if value > 0 else spec.default


def default_options() -> dict[str, Any]:
    return {spec.name: _start_value(spec) for spec in OPTION_SPECS}
