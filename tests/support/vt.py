"""A small VT100 screen, as xterm.js keeps one: what a terminal user actually sees.

Enough of xterm for the agent's ``/ws`` terminal: printable text with automatic wrap (and
xterm's pending-wrap at the last column), CR, LF, backspace, cursor moves (``A B C D G H``),
erase (``J``, ``K``, ``2J``) and SGR colours, which are dropped. The screen is unbounded
(scrollback and screen are one list of rows) so that tests can read everything printed.
"""

from __future__ import annotations

import re

_CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z@`~])")


class Screen:
    def __init__(self, cols: int = 80) -> None:
        self.cols = cols
        self.rows: list[list[str]] = [[]]
        self.row = 0
        self.col = 0
        self._pending_wrap = False
        self._partial = ""  # an escape sequence cut between two feeds

    @property
    def lines(self) -> list[str]:
        return ["".join(r).rstrip() for r in self.rows]

    @property
    def cursor(self) -> tuple[int, int]:
        return self.row, self.col

    def feed(self, data: str) -> None:
        data, self._partial = self._partial + data, ""
        i = 0
        while i < len(data):
            ch = data[i]
            if ch == "\x1b":
                match = _CSI.match(data, i)
                if match is None:
                    if len(data) - i < 16 and "\x1b[".startswith(data[i : i + 2]):
                        self._partial = data[i:]
                        return
                    i += 1
                    continue
                self._csi(match.group(1), match.group(2))
                i = match.end()
                continue
            if ch == "\r":
                self.col, self._pending_wrap = 0, False
            elif ch == "\n":
                self._down()
            elif ch == "\x08":
                self.col, self._pending_wrap = max(0, self.col - 1), False
            elif ch >= " ":
                self._put(ch)
            i += 1

    def _down(self) -> None:
        self.row += 1
        self._pending_wrap = False
        while len(self.rows) <= self.row:
            self.rows.append([])

    def _put(self, ch: str) -> None:
        if self._pending_wrap:
            self._down()
            self.col = 0
        line = self.rows[self.row]
        while len(line) <= self.col:
            line.append(" ")
        line[self.col] = ch
        if self.col == self.cols - 1:
            self._pending_wrap = True
        else:
            self.col += 1

    def _csi(self, params: str, final: str) -> None:
        numbers = [int(p) for p in params.split(";") if p.isdigit()]
        n = numbers[0] if numbers else 1
        self._pending_wrap = False
        if final == "A":
            self.row = max(0, self.row - n)
        elif final == "B":
            for _ in range(n):
                self._down()
        elif final == "C":
            self.col = min(self.cols - 1, self.col + n)
        elif final == "D":
            self.col = max(0, self.col - n)
        elif final == "G":
            self.col = min(self.cols - 1, n - 1)
        elif final == "H":
            self.row, self.col = 0, 0
        elif final == "K":
            del self.rows[self.row][self.col :]
        elif final == "J":
            if numbers and numbers[0] == 2:
                self.rows, self.row, self.col = [[]], 0, 0
            else:
                del self.rows[self.row][self.col :]
                del self.rows[self.row + 1 :]
