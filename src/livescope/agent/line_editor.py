"""Line editing for the ``/ws`` terminal: keystrokes to keys, the line being typed, its drawing.

Three small parts, each ignorant of the others' business. :class:`KeyDecoder` turns what a
terminal sends (xterm.js, any VT100) into keys, keeping an escape sequence that a frame cut
in two. :class:`LineEditor` is the line, the cursor and the history. :class:`LineDisplay`
draws prompt and line on a screen ``cols`` wide, tracking the row the cursor is on so that a
line longer than the screen redraws in place.
"""

from __future__ import annotations

import re
import unicodedata

# Keys that are not text. Control keys are their own character; cursor keys and friends use
# one canonical escape sequence whatever variant the terminal sent.
ENTER = "\r"
TAB = "\t"
BACKSPACE = "\x7f"
CTRL_A, CTRL_B, CTRL_C, CTRL_D, CTRL_E, CTRL_F = "\x01", "\x02", "\x03", "\x04", "\x05", "\x06"
CTRL_K, CTRL_L, CTRL_N, CTRL_P, CTRL_U, CTRL_W = "\x0b", "\x0c", "\x0e", "\x10", "\x15", "\x17"
UP, DOWN, RIGHT, LEFT = "\x1b[A", "\x1b[B", "\x1b[C", "\x1b[D"
HOME, END, DELETE = "\x1b[H", "\x1b[F", "\x1b[3~"
WORD_LEFT, WORD_RIGHT = "\x1bb", "\x1bf"

MAX_LINE = 16384  # characters; a paste beyond this is cut rather than kept forever

# Final byte of a CSI sequence -> key; ``~`` sequences by their number (vt220 style).
_CSI_KEYS = {"A": UP, "B": DOWN, "C": RIGHT, "D": LEFT, "H": HOME, "F": END}
_TILDE_KEYS = {"1": HOME, "7": HOME, "4": END, "8": END, "3": DELETE}
_ALT_KEYS = {"b": WORD_LEFT, "f": WORD_RIGHT, BACKSPACE: CTRL_W}
_CSI = re.compile(r"\x1b\[([0-9;]*)([\x40-\x7e])")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def is_text(ch: str) -> bool:
    """Printable: not a C0/C1 control character and not DEL."""
    return ch >= " " and ch != "\x7f" and not "\x80" <= ch <= "\x9f"


def char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def visible_width(text: str) -> int:
    """Columns ``text`` occupies on a terminal: ANSI escapes take none, wide characters two."""
    return sum(char_width(ch) for ch in _ANSI.sub("", text))


class KeyDecoder:
    """Splits terminal input into keys: runs of text, control characters, escape keys."""

    def __init__(self) -> None:
        self._pending = ""
        self._after_cr = False  # "\r\n" from a client is one Enter, not two

    def feed(self, data: str) -> list[str]:
        data, self._pending = self._pending + data, ""
        keys: list[str] = []
        i = 0
        while i < len(data):
            ch = data[i]
            after_cr, self._after_cr = self._after_cr, ch == "\r"
            if is_text(ch):
                j = i + 1
                while j < len(data) and is_text(data[j]):
                    j += 1
                keys.append(data[i:j])
                i = j
                continue
            if ch == "\x1b":
                used, key = self._escape(data, i)
                if used == 0:
                    self._pending = data[i:]
                    break
                if key:
                    keys.append(key)
                i += used
                continue
            if ch == "\n":
                if not after_cr:
                    keys.append(ENTER)
            elif ch == "\x08":
                keys.append(BACKSPACE)
            else:
                keys.append(ch)
            i += 1
        return keys

    @staticmethod
    def _escape(data: str, i: int) -> tuple[int, str]:
        """(characters used, key or "" for an unknown sequence); 0 used when incomplete."""
        if i + 1 >= len(data):
            return 0, ""
        kind = data[i + 1]
        if kind == "[":
            match = _CSI.match(data, i)
            if match is None:
                rest = data[i + 2 :]
                return (0, "") if re.fullmatch(r"[0-9;]*", rest) else (2, "")
            params, final = match.groups()
            used = match.end() - i
            if final == "~":
                return used, _TILDE_KEYS.get(params.split(";")[0], "")
            if final in ("C", "D") and params.endswith((";5", ";3")):  # Ctrl/Alt + arrow
                return used, WORD_RIGHT if final == "C" else WORD_LEFT
            return used, _CSI_KEYS.get(final, "")
        if kind == "O":
            if i + 2 >= len(data):
                return 0, ""
            return 3, _CSI_KEYS.get(data[i + 2], "")
        return 2, _ALT_KEYS.get(kind, "")


class LineEditor:
    """The line being typed: text, cursor, kill commands and a walk through ``history``.

    ``history`` is shared, not copied: the session's command history, which the ``history``
    command shows too.
    """

    def __init__(self, history: list[str]) -> None:
        self.history = history
        self.text = ""
        self.cursor = 0
        self._index: int | None = None  # position in history while walking it
        self._draft = ""  # the line being typed before the walk started

    def insert(self, text: str) -> None:
        text = text[: max(0, MAX_LINE - len(self.text))]
        self.text = self.text[: self.cursor] + text + self.text[self.cursor :]
        self.cursor += len(text)

    def accept(self) -> str:
        """The finished line; the editor starts afresh."""
        line = self.text
        self.text, self.cursor, self._index, self._draft = "", 0, None, ""
        return line

    def handle(self, key: str) -> bool:
        """Apply one editing key; False when ``key`` is not an editing key."""
        if is_text(key[0]):
            self.insert(key)
            return True
        action = self._ACTIONS.get(key)
        if action is None:
            return False
        action(self)
        return True

    # -- editing actions ---------------------------------------------------------------------
    def _left(self) -> None:
        self.cursor = max(0, self.cursor - 1)

    def _right(self) -> None:
        self.cursor = min(len(self.text), self.cursor + 1)

    def _home(self) -> None:
        self.cursor = 0

    def _end(self) -> None:
        self.cursor = len(self.text)

    def _backspace(self) -> None:
        if self.cursor:
            self.text = self.text[: self.cursor - 1] + self.text[self.cursor :]
            self.cursor -= 1

    def _delete(self) -> None:
        self.text = self.text[: self.cursor] + self.text[self.cursor + 1 :]

    def _kill_to_start(self) -> None:
        self.text, self.cursor = self.text[self.cursor :], 0

    def _kill_to_end(self) -> None:
        self.text = self.text[: self.cursor]

    def _word_start(self) -> int:
        i = self.cursor
        while i and self.text[i - 1] == " ":
            i -= 1
        while i and self.text[i - 1] != " ":
            i -= 1
        return i

    def _kill_word(self) -> None:
        start = self._word_start()
        self.text, self.cursor = self.text[:start] + self.text[self.cursor :], start

    def _word_left(self) -> None:
        self.cursor = self._word_start()

    def _word_right(self) -> None:
        i, n = self.cursor, len(self.text)
        while i < n and self.text[i] == " ":
            i += 1
        while i < n and self.text[i] != " ":
            i += 1
        self.cursor = i

    def _older(self) -> None:
        if self._index is None:
            if not self.history:
                return
            self._index, self._draft = len(self.history), self.text
        if self._index > 0:
            self._index -= 1
            self.text = self.history[self._index]
            self.cursor = len(self.text)

    def _newer(self) -> None:
        if self._index is None:
            return
        self._index += 1
        if self._index >= len(self.history):
            self.text, self._index = self._draft, None
        else:
            self.text = self.history[self._index]
        self.cursor = len(self.text)

    _ACTIONS = {
        LEFT: _left,
        CTRL_B: _left,
        RIGHT: _right,
        CTRL_F: _right,
        HOME: _home,
        CTRL_A: _home,
        END: _end,
        CTRL_E: _end,
        BACKSPACE: _backspace,
        DELETE: _delete,
        CTRL_U: _kill_to_start,
        CTRL_K: _kill_to_end,
        CTRL_W: _kill_word,
        WORD_LEFT: _word_left,
        WORD_RIGHT: _word_right,
        UP: _older,
        CTRL_P: _older,
        DOWN: _newer,
        CTRL_N: _newer,
    }


class LineDisplay:
    """Draws ``prompt + text`` with the cursor in place, on a screen ``cols`` columns wide.

    It remembers what it drew and the row of the cursor within it, so the next draw can move
    back to the prompt's first row and repaint, or, when text was only added at the end, send
    just the new characters.
    """

    def __init__(self, cols: int = 80) -> None:
        self.cols = cols
        self._row = 0  # the cursor's row, counted from the prompt's first row
        self._shown: tuple[str, str, int] | None = None  # prompt, text, cursor on screen

    def draw(self, prompt: str, text: str, cursor: int) -> str:
        start = visible_width(prompt)
        end = start + visible_width(text)
        shown = self._shown
        self._shown = (prompt, text, cursor)
        if (
            shown is not None
            and shown[0] == prompt
            and shown[2] == len(shown[1])
            and cursor == len(text)
            and text.startswith(shown[1])
        ):
            out = text[len(shown[1]) :]
        else:
            out = (f"\x1b[{self._row}A" if self._row else "") + "\r\x1b[J" + prompt + text
        if out and end and end % self.cols == 0:
            out += "\r\n"  # leave the pending-wrap state: the cursor goes to the next row
        end_row = end // self.cols
        row, col = divmod(start + visible_width(text[:cursor]), self.cols)
        if cursor != len(text):
            out += f"\x1b[{end_row - row}A" if end_row > row else ""
            out += "\r" + (f"\x1b[{col}C" if col else "")
        self._row = row
        return out

    def erase(self) -> str:
        """Remove the prompt and line from the screen; the cursor ends where the prompt was."""
        out = (f"\x1b[{self._row}A" if self._row else "") + "\r\x1b[J"
        self._row, self._shown = 0, None
        return out

    def finish(self, prompt: str, text: str) -> str:
        """Leave the line as it is and put the cursor at the start of the next row (Enter)."""
        out = self.draw(prompt, text, len(text))
        end = visible_width(prompt) + visible_width(text)
        if not (end and end % self.cols == 0):
            out += "\r\n"
        self._row, self._shown = 0, None
        return out
