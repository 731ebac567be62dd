"""The agent's global options (the ``options`` command views and changes them).

Each option is declared once here; the agent holds a plain dict of current values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OptionSpec:
    name: str
    type: type
    default: Any
    summary: str
    description: str = ""
    level: int = 0


OPTION_SPECS: tuple[OptionSpec, ...] = (
    OptionSpec("json-format", bool, False, "Render object values as JSON text in the console"),
    OptionSpec(
        "unsafe", bool, False, "Allow enhancing functions of the standard library and livescope"
    ),
    OptionSpec("save-result", bool, False, "Save command results to livescope-output/result.log"),
    OptionSpec("job-timeout", str, "1d", "Time after which any job is ended (s, m, h, d suffixes)"),
    OptionSpec("print-parent-fields", bool, True, "Show inherited attributes in sc -f"),
    OptionSpec("verbose", bool, False, "List every enhanced function in the enhancer result"),
    OptionSpec("strict", bool, True, "Refuse setting attributes through ognl expressions"),
)


def default_options() -> dict[str, Any]:
    return {spec.name: spec.default for spec in OPTION_SPECS}
