"""Printing result items to the terminal, through the client-side pipes when there are any."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from rich.console import Console

from livescope.commands.pipes import Pipeline
from livescope.console.views import render

# Lines are not wrapped for files and pipes (and for the console's own pipes), so that a
# grep sees a whole trace line or table row; a terminal wraps at its own width.
UNWRAPPED_WIDTH = 400


class Printer:
    """Renders items with rich; colour only when the real output is a terminal."""

    def __init__(self, file: TextIO | None = None, color: bool | None = None) -> None:
        # With no file, rich writes to whatever sys.stdout is at print time, so output from
        # the result thread goes through prompt_toolkit's patch_stdout above the prompt.
        if color is None:
            color = (file or sys.stdout).isatty()
        self.console = Console(
            file=file,
            force_terminal=color,
            no_color=not color,
            width=None if color or os.environ.get("COLUMNS") else UNWRAPPED_WIDTH,
            highlight=False,
            soft_wrap=True,
        )

    def show(self, items: Iterable[dict[str, Any]]) -> None:
        for item in items:
            renderable = render(item)
            if renderable is not None:
                self.console.print(renderable)

    def text_lines(self, items: Iterable[dict[str, Any]]) -> list[str]:
        """Plain, unwrapped text of the items, as lines (for pipes)."""
        buffer = io.StringIO()
        plain = Console(
            file=buffer, width=UNWRAPPED_WIDTH, no_color=True, highlight=False, soft_wrap=True
        )
        for item in items:
            renderable = render(item)
            if renderable is not None:
                plain.print(renderable)
        return [line.rstrip() for line in buffer.getvalue().splitlines()]

    def show_piped(self, items: Iterable[dict[str, Any]], pipeline: Pipeline) -> None:
        for line in pipeline(self.text_lines(items)):
            self.console.print(line, markup=False, highlight=False)
