"""The classic web terminal on ``/ws`` (reference §10) against real targets and real clients.

Every test drives a real target through a real WebSocket client (``websockets``, or raw
wsproto where the frames themselves matter), sending the JSON frames xterm.js sends and reading
the terminal output it would write to the screen.
"""

from __future__ import annotations

import base64
import json
import random
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Message, Ping, Request, TextMessage

from livescope.agent.line_editor import KeyDecoder, LineDisplay, LineEditor
from support.network import secured_target
from support.targets import Target
from support.vt import Screen

TICKER = """
import os, sys, time
STOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stop")

def tick(i):
    return i * 2

def hooks():
    engine = sys.modules.get("livescope.instrument.engine")
    # the module shows in sys.modules while it is still being imported
    count = getattr(engine, "hooked_count", None)
    return count() if count else 0

print("READY", flush=True)
i = 0
while not os.path.exists(STOP):
    tick(i)
    i += 1
    if i % 10 == 0:
        sys.stdout.write("hooks=%d\\n" % hooks())
        sys.stdout.flush()
    time.sleep(0.02)
print("DONE", flush=True)
"""
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LEFT, HOME_KEYS = "\x1b[D", ("\x1b[H", "\x1bOH", "\x1b[1~")
UP, DOWN = "\x1b[A", "\x1b[B"
WIDTH = 200  # columns of the test's screen: wide enough that table rows do not wrap


class Term:
    """One browser-like client of /ws: sends keystrokes, keeps the screen xterm.js would show."""

    def __init__(self, target: Target, query: str = "", host: str = "127.0.0.1", **kwargs):
        self.prompt = f"[livescope@{target.pid}]$ "
        # entered as a context manager, the form websockets wants; close() leaves it
        self.ws: ClientConnection = connect(
            f"ws://{host}:{target.port}/ws{query}", proxy=None, **kwargs
        ).__enter__()
        self.frames: list[str | bytes] = []
        self.screen = Screen(WIDTH)
        self.lock = threading.Lock()
        self.closed = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        self.resize(WIDTH)  # xterm.js sends its size as soon as the socket opens

    def _read(self) -> None:
        try:
            for frame in self.ws:
                with self.lock:
                    self.frames.append(frame)
                    if isinstance(frame, str):
                        self.screen.feed(frame)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    @property
    def raw(self) -> str:
        with self.lock:
            return "".join(f for f in self.frames if isinstance(f, str))

    @property
    def text(self) -> str:
        """Everything sent, colours and cursor moves left out (for what streams by)."""
        return ANSI.sub("", self.raw)

    def lines(self) -> list[str]:
        with self.lock:
            return self.screen.lines

    def row(self) -> int:
        with self.lock:
            return self.screen.row

    def mark(self) -> int:
        return len(self.text)

    def keys(self, data: str) -> None:
        self.ws.send(json.dumps({"action": "read", "data": data}))

    def type(self, text: str) -> None:
        """Keystroke by keystroke, one frame each, as a person types into xterm.js."""
        for ch in text:
            self.keys(ch)

    def resize(self, cols: int, rows: int = 24) -> None:
        with self.lock:
            self.screen.cols = cols
        self.ws.send(json.dumps({"action": "resize", "cols": cols, "rows": rows}))

    def wait(self, check, what: str, timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        while not (result := check()):
            if time.monotonic() > deadline or self.closed.is_set():
                screen = "\n".join(self.lines()[-30:])
                why = (
                    f"the agent closed the socket (code {self.ws.protocol.close_code})"
                    if self.closed.is_set()
                    else f"nothing came in {timeout} s"
                )
                raise AssertionError(
                    f"{what} not shown: {why}; last frames {self.frames[-3:]!r};"
                    f" screen ends with:\n{screen}"
                )
            time.sleep(0.02)
        return result

    def wait_for(self, needle: str, since: int = 0, timeout: float = 15.0) -> str:
        """The stream after ``since`` once ``needle`` went by in it."""
        return self.wait(
            lambda: needle in self.text[since:] and self.text[since:], repr(needle), timeout
        )

    def wait_line(self, expected: str) -> None:
        """Until the cursor's line reads ``expected`` (the line being edited, say)."""
        self.wait(lambda: self.lines()[self.row()] == expected.rstrip(), repr(expected))

    def wait_prompt(self, row: int, timeout: float = 15.0) -> list[str]:
        """Screen lines from ``row`` on, once a fresh prompt appeared below it."""

        def fresh() -> list[str] | None:
            with self.lock:
                lines, at = self.screen.lines, self.screen.row
            if len(lines) > row + 1 and at == len(lines) - 1 and lines[-1] == self.prompt.rstrip():
                return lines[row:-1]
            return None

        return self.wait(fresh, "a fresh prompt", timeout)

    def run(self, line: str, timeout: float = 15.0) -> list[str]:
        """Type ``line`` and Enter; the lines it printed before the prompt came back."""
        row = self.row()
        self.keys(line + "\r")
        return self.wait_prompt(row, timeout)[1:]

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    with Target(TICKER) as t:
        t.wait_for_output("READY")
        yield t


@pytest.fixture
def term(target: Target) -> Iterator[Term]:
    t = Term(target)
    t.wait_for(t.prompt)
    yield t
    t.close()
    # what xterm.js needs, whatever the test did: text frames, and \r\n for every line break
    assert all(isinstance(frame, str) for frame in t.frames)
    assert "\n" not in t.raw.replace("\r\n", "")


def last_hooks(target: Target, seen: int) -> int:
    """The hook count the target reports after its ``seen``-th report."""
    deadline = time.monotonic() + 10
    while len(target.reports("hooks")) <= seen:
        assert time.monotonic() < deadline, target.output()[-500:]
        time.sleep(0.05)
    return target.reports("hooks")[-1]


def wait_hooks(target: Target, expected: int) -> None:
    deadline = time.monotonic() + 10
    while last_hooks(target, len(target.reports("hooks"))) != expected:
        assert time.monotonic() < deadline, f"hooks never became {expected}"


# -- the shell ---------------------------------------------------------------------------------


def test_banner_and_prompt(target: Target, term: Term) -> None:
    shown = term.text
    assert shown.startswith("livescope\r\n")
    banner = shown[: shown.index(term.prompt)]
    assert re.search(r"version\s+0\.\d+\.\d+", banner)
    assert re.search(rf"pid\s+{target.pid}\r\n", banner)
    assert re.search(r"main_class\s+\S*target_main\.py", banner)
    assert re.search(r"time\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", banner)


def test_quiet_has_no_banner(target: Target) -> None:
    quiet = Term(target, "?quiet=true")
    try:
        quiet.wait_for(quiet.prompt)
        assert quiet.text.lstrip("\r") == quiet.prompt
        assert "wiki" not in quiet.text
    finally:
        quiet.close()


def test_version_typed_keystroke_by_keystroke(term: Term) -> None:
    row = term.row()
    term.type("version")
    term.wait_line(term.prompt + "version")
    term.keys("\r")
    lines = term.wait_prompt(row)
    assert lines[0] == term.prompt + "version"
    assert len(lines) == 2 and re.fullmatch(r"0\.\d+\.\d+", lines[1])


def edited(term: Term, keys: str, shows: str) -> list[str]:
    """Send ``keys``, see the line read ``shows``, press Enter: the command's output lines."""
    row = term.row()
    term.keys(keys)
    term.wait_line(term.prompt + shows)
    term.keys("\r")
    return term.wait_prompt(row)[1:]


def test_line_editing_keys(term: Term) -> None:
    # Backspace, Left and insertion before the cursor
    row = term.row()
    term.type("echo abcX\x7f")
    term.keys(LEFT * 3 + "Z")
    term.wait_line(term.prompt + "echo Zabc")
    term.keys("\r")
    assert term.wait_prompt(row)[1:] == ["Zabc"]
    # every spelling of Home, then End (Ctrl-E); Ctrl-A
    for home in HOME_KEYS:
        assert edited(term, f"cho 1{home}e\x05 2", "echo 1 2") == ["1 2"]
    assert edited(term, "ho x\x01ec", "echo x") == ["x"]
    # Ctrl-W deletes the word before the cursor, Ctrl-U the whole line, Ctrl-K up to the end
    assert edited(term, "echo one two\x17three", "echo one three") == ["one three"]
    assert edited(term, "garbage words\x15echo fresh", "echo fresh") == ["fresh"]
    assert edited(term, "echo keep cut" + LEFT * 4 + "\x0b", "echo keep ") == ["keep"]
    # Delete removes the character under the cursor; Right moves on
    assert edited(term, "echo abXc" + LEFT * 2 + "\x1b[3~" + "\x1b[C" + "d", "echo abcd") == [
        "abcd"
    ]
    # Ctrl-D on a non-empty line deletes too, and Ctrl-C abandons the line
    assert edited(term, "echo ab" + LEFT + "\x04", "echo a") == ["a"]
    row = term.row()
    term.keys("echo never\x03")
    term.wait_prompt(row)
    assert term.lines()[row] == term.prompt + "echo never^C"


def test_escape_sequence_split_across_frames(term: Term) -> None:
    row = term.row()
    term.keys("echo ab\x1b")
    term.keys("[D")  # the rest of Left arrives in the next frame
    term.keys("X\r")
    assert term.wait_prompt(row)[1:] == ["aXb"]


def test_history_up_and_down(term: Term) -> None:
    assert term.run("echo first") == ["first"]
    assert term.run("echo second") == ["second"]
    assert edited(term, UP, "echo second") == ["second"]
    assert edited(term, UP + UP + UP, "echo first") == ["first"]
    # Down past the newest line brings back what was being typed
    assert edited(term, "echo draft" + UP + DOWN, "echo draft") == ["draft"]
    history = term.run("history")
    assert any(line.endswith("echo first") for line in history)
    assert any(line.endswith("echo draft") for line in history)


def test_tab_completes_commands_and_options(term: Term) -> None:
    row = term.row()
    term.keys("vers\t")
    term.wait_line(term.prompt + "version ")
    term.keys("\r")
    assert re.fullmatch(r"0\.\d+\.\d+", term.wait_prompt(row)[1])
    term.keys("watch --exp\t")
    term.wait_line(term.prompt + "watch --expand ")
    # ambiguous: the candidates are listed under the line, which stays as it was
    row = term.row()
    term.keys("\x15watch --ex\t")
    term.wait(lambda: len(term.lines()) > row + 1, "the candidates")
    term.wait_line(term.prompt + "watch --ex")
    listed = " ".join(term.lines()[row + 1 : -1]).split()
    assert listed == ["--exception", "--exclude-class-pattern", "--expand"]
    term.keys("\x15thread | gr\t")
    term.wait_line(term.prompt + "thread | grep ")
    term.keys("\x15nosuchprefix\t")
    term.wait_for("\x07", term.mark() - 1)  # nothing to complete: the bell
    term.keys("\x15")
    term.wait_line(term.prompt)


def test_unknown_command(term: Term) -> None:
    assert term.run("nosuchcmd --flag") == ["nosuchcmd: command not found"]
    assert "\x1b[31mnosuchcmd: command not found" in term.raw  # in red
    assert term.run("echo 'unclosed") == ["unclosed single quote"]
    assert term.run("version | sort") == [
        "unsupported pipe command: sort (grep, head, tail, wc -l, plaintext)"
    ]
    assert term.run("") == []


def test_command_errors_are_red(term: Term) -> None:
    lines = term.run("watch")
    assert lines == ["The argument 'class-pattern' is required"]
    assert "\x1b[31mThe argument 'class-pattern' is required\x1b[0m" in term.raw


def test_grep_filters_text_output(term: Term) -> None:
    everything = term.run("thread")
    assert any("livescope-agent" in line for line in everything)
    filtered = term.run("thread | grep MainThread")
    assert filtered and all("MainThread" in line for line in filtered)
    assert all("\x1b" not in line for line in filtered)
    assert term.run("thread | grep -v Thread | wc -l") == [
        str(sum("Thread" not in line for line in everything))
    ]


def test_watch_streams_until_ctrl_c(target: Target, term: Term) -> None:
    row, since = term.row(), term.mark()
    term.keys("watch __main__ tick -x 2\r")
    term.wait_for("Press Q or Ctrl+C to abort.", since)
    term.wait(lambda: term.text[since:].count("result=") >= 3, "three watch results")
    shown = term.text[since:]
    assert "method=__main__.tick location=AtExit" in shown
    assert re.search(r"\[\[\d+\], null, \d+\]", shown)
    assert term.prompt not in shown  # no prompt while the job runs
    term.keys("\x03")
    lines = term.wait_prompt(row)
    assert lines[0] == term.prompt + "watch __main__ tick -x 2"
    wait_hooks(target, 0)
    assert term.run("echo back") == ["back"]


def test_typeahead_waits_for_the_prompt(target: Target, term: Term) -> None:
    # typed in the same frame as the Enter that started the job: kept until the prompt is back
    term.keys("watch __main__ tick -n 5\recho typed ahead")
    term.wait_line(term.prompt + "echo typed ahead")
    row = term.row()
    term.keys("\r")
    assert term.wait_prompt(row)[1:] == ["typed ahead"]


def test_q_or_ctrl_c_abort_and_drop_typeahead(target: Target, term: Term) -> None:
    for abort in ("q", "\x03"):
        row, since = term.row(), term.mark()
        term.keys("watch __main__ tick\r")
        term.wait_for("result=", since)
        term.keys("echo dropped")  # pending input is discarded by the interrupt, as a tty does
        term.keys(abort)
        term.wait_prompt(row)
        assert term.lines()[-1] == term.prompt.rstrip()
        wait_hooks(target, 0)


def test_streaming_grep_and_limited_watch(term: Term) -> None:
    lines = term.run("watch __main__ tick -n 3 | grep location=")
    hits = [line for line in lines if "location=" in line]
    assert len(hits) == 3 and all("method=__main__.tick location=AtExit" in h for h in hits)
    assert not any("result=" in line for line in lines)


def test_trace_is_a_tree(term: Term) -> None:
    lines = term.run("trace __main__ tick -n 1")
    root = next(i for i, line in enumerate(lines) if line.startswith("`---ts="))
    assert "thread_name=MainThread" in lines[root]
    assert re.fullmatch(r"    `---\[[\d.]+ms\] __main__:tick\(\) #\d+", lines[root + 1])


def test_background_jobs_jobs_fg_kill(target: Target, term: Term) -> None:
    started = term.run("watch __main__ tick | grep nothing-matches &")
    assert re.fullmatch(r"\[(\d+)\] watch __main__ tick \| grep nothing-matches &", started[0])
    first = started[0][1 : started[0].index("]")]
    listed = term.run("jobs")
    assert any(line.startswith(f"[{first}]") and "RUNNING" in line for line in listed)
    term.run(f"kill {first}")
    deadline = time.monotonic() + 10
    while any(line.startswith(f"[{first}]") for line in term.run("jobs")):
        assert time.monotonic() < deadline
    assert term.run("kill 99999") == ["kill: no such job"]
    second = term.run("watch __main__ tick | grep nothing-matches &")[0]
    job = second[1 : second.index("]")]
    row = term.row()
    term.keys(f"fg %{job}\r")
    term.wait(lambda: len(term.lines()) > row + 2, "the job's command line")
    assert term.lines()[row + 1] == "watch __main__ tick | grep nothing-matches &"
    term.keys("\x03")  # only a foreground job hears Ctrl-C
    term.wait_prompt(row)
    deadline = time.monotonic() + 10
    while any(line.startswith(f"[{job}]") for line in term.run("jobs")):
        assert time.monotonic() < deadline
    wait_hooks(target, 0)


def listing(term: Term, keys: str) -> list[str]:
    """The candidates Tab lists for ``keys``, as screen lines."""
    row = term.row()
    term.keys(keys)
    term.wait(lambda: "sysprop" in " ".join(term.lines()[row + 1 :]), "the candidates")
    term.wait_line(term.prompt + keys.rstrip("\t"))
    return term.lines()[row + 1 : -1]


def test_resize_is_used_for_layout(term: Term) -> None:
    term.resize(30, 10)
    narrow = listing(term, "s\t")
    assert len(narrow) > 1 and all(len(line) <= 30 for line in narrow)
    # a line longer than the screen wraps, and is still edited as one line in place
    row = term.row()
    term.keys("\x15echo " + "a" * 50)
    term.wait(lambda: len(term.lines()) == row + 3, "the line wrapped over three rows")
    term.keys("\x01" + "\x1b[C" * 5 + "b")
    text = term.prompt + "echo b" + "a" * 50
    term.wait(lambda: "".join(term.lines()[row : row + 3]) == text, "the edited long line")
    assert term.screen.cursor == (row, len(term.prompt) + 6)
    term.keys("\r")
    assert "".join(term.wait_prompt(row)[3:]) == "b" + "a" * 50  # wrapped output, too
    term.resize(200, 50)
    assert len(listing(term, "s\t")) == 1


def test_keep_alive_and_junk_frames_are_ignored(term: Term) -> None:
    for frame in ('{"action":"read","data":""}', "not json", "[1,2]", '{"action":"x"}'):
        term.ws.send(frame)
    term.ws.send(json.dumps({"action": "resize", "cols": "wide"}))
    assert term.run("echo alive") == ["alive"]


def test_exit_quit_and_ctrl_d_close_the_socket(target: Target) -> None:
    for leave in ("exit\r", "quit\r", "\x04"):
        t = Term(target, "?quiet=true")
        t.wait_for(t.prompt)
        t.keys(leave)
        assert t.closed.wait(10)
        assert t.ws.close_code == 1000


def test_terminal_on_every_python(make_target, any_python: str) -> None:
    target = make_target(TICKER, python=any_python)
    target.wait_for_output("READY")
    term = Term(target)
    try:
        term.wait_for(term.prompt)
        assert re.fullmatch(r"0\.\d+\.\d+", term.run("version")[0])
        row, since = term.row(), term.mark()
        term.keys("watch __main__ tick\r")
        term.wait_for("result=", since)
        term.keys("\x03")
        term.wait_prompt(row)
        wait_hooks(target, 0)
    finally:
        term.close()


# -- the session and its jobs ------------------------------------------------------------------


@pytest.mark.parametrize("how", ["close frame", "dropped connection"])
def test_closing_the_socket_mid_job_removes_its_hooks(make_target, how: str) -> None:
    target = make_target(TICKER)
    target.wait_for_output("READY")
    term = Term(target)
    term.wait_for(term.prompt)
    since = term.mark()
    term.keys("watch __main__ tick\r")
    term.wait_for("result=", since)
    assert last_hooks(target, len(target.reports("hooks"))) == 1
    if how == "close frame":
        term.ws.close()
    else:
        term.ws.socket.shutdown(socket.SHUT_RDWR)
        term.ws.socket.close()
    wait_hooks(target, 0)
    (target.workdir / "stop").touch()
    assert target.wait_exit(10) == 0
    assert "DONE" in target.output()


def test_stop_closes_the_terminal_and_the_agent_only(make_target) -> None:
    target = make_target(TICKER)
    target.wait_for_output("READY")
    term = Term(target, "?quiet=true")
    term.wait_for(term.prompt)
    since = term.mark()
    term.keys("watch __main__ tick | grep nothing &\r")
    term.wait_for("[", since)
    wait_hooks(target, 1)
    term.keys("stop\r")
    shown = term.wait_for("going to shutdown", since)
    assert term.closed.wait(10) and term.ws.close_code == 1000
    assert "Resetting all enhanced classes" in shown
    wait_hooks(target, 0)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", target.port), timeout=2).close()
    (target.workdir / "stop").touch()
    assert target.wait_exit(10) == 0


def test_one_terminal_is_one_session(target: Target, term: Term) -> None:
    other = Term(target, "?quiet=true")
    try:
        other.wait_for(other.prompt)
        mine = [line for line in term.run("session") if "sessionId" in line]
        theirs = [line for line in other.run("session") if "sessionId" in line]
        assert mine and theirs and mine != theirs
    finally:
        other.close()


@pytest.mark.timeout(30)
def test_server_pings_an_idle_terminal(target: Target) -> None:
    """About 10 s: the agent pings a terminal that had nothing written to it for 10 s."""
    sock = socket.create_connection(("127.0.0.1", target.port), timeout=15)
    ws = WSConnection(ConnectionType.CLIENT)
    try:
        sock.sendall(ws.send(Request(host="127.0.0.1", target="/ws?quiet=true")))
        last_output = time.monotonic()
        idle_before_ping = None
        texts: list[str] = []
        deadline = last_output + 15
        while idle_before_ping is None and time.monotonic() < deadline:
            ws.receive_data(sock.recv(65536) or None)
            for event in ws.events():
                if isinstance(event, (AcceptConnection, TextMessage)):
                    last_output = time.monotonic()
                    texts.append(getattr(event, "data", ""))
                elif isinstance(event, Ping):
                    idle_before_ping = time.monotonic() - last_output
                    sock.sendall(ws.send(event.response()))  # the pong
        assert idle_before_ping is not None, "no ping within 15 s"
        assert idle_before_ping > 5
        assert "".join(texts).endswith(f"[livescope@{target.pid}]$ ")
        # the terminal carries on after the ping/pong
        sock.sendall(ws.send(Message(data=json.dumps({"action": "read", "data": "echo pong\r"}))))
        received = ""
        while "pong\r\n" not in ANSI.sub("", received).replace("echo pong", ""):
            ws.receive_data(sock.recv(65536) or None)
            received += "".join(e.data for e in ws.events() if isinstance(e, TextMessage))
    finally:
        sock.close()


# -- the line display on its own: what it draws is what a VT100 screen then shows -------------


@pytest.mark.parametrize("cols", [7, 10, 16, 80])
def test_line_display_redraws_in_place_at_any_width(cols: int) -> None:
    rng = random.Random(cols)
    keys = ["a", "bc", " ", "xyz", LEFT, "\x1b[C", "\x01", "\x05", "\x7f", "\x1b[3~", "\x17"]
    keys += ["\x0b", "\x15", "\x1bb", "\x1bf"]
    screen, display, editor = Screen(cols), LineDisplay(cols), LineEditor([])
    prompt = "$> "
    screen.feed("earlier output\r\n")
    start = screen.row
    screen.feed(display.draw(prompt, "", 0))
    for _ in range(400):
        editor.handle(rng.choice(keys))
        screen.feed(display.draw(prompt, editor.text, editor.cursor))
        shown = "".join("".join(row) for row in screen.rows[start:])
        assert shown == prompt + editor.text
        row, col = divmod(len(prompt) + editor.cursor, cols)
        assert screen.cursor == (start + row, col)
    screen.feed(display.finish(prompt, editor.text) + "next\r\n")
    assert screen.lines[-2] == "next" and screen.rows[-1] == []


def test_key_decoder_variants() -> None:
    decoder = KeyDecoder()
    assert decoder.feed("ab\r\ncd\n") == ["ab", "\r", "cd", "\r"]  # \r\n is one Enter
    assert decoder.feed("\x1bOA\x1b[1;5D\x1b[4~\x08\x1b\x7f") == [
        UP,
        "\x1bb",
        "\x1b[F",
        "\x7f",
        "\x17",
    ]
    assert decoder.feed("\x1b[20") == [] and decoder.feed("0~pasted") == ["pasted"]
    assert decoder.feed("\x1b[Zx") == ["x"]  # unknown sequences are dropped


# -- authentication (same check as /api) ------------------------------------------------------

PASSWORD = "terminal pass:word"


@pytest.fixture(scope="module")
def secured() -> Iterator[tuple[Target, str]]:
    """A password-protected target and the address through which it sees a remote peer."""
    with secured_target(TICKER, PASSWORD) as pair:
        yield pair


def test_auth_refuses_without_credentials(secured: tuple[Target, str]) -> None:
    target, host = secured
    for query in ("", "?password=wrong"):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://{host}:{target.port}/ws{query}", proxy=None)
        assert refused.value.response.status_code == 401
        assert refused.value.response.headers["WWW-Authenticate"] == (
            'Basic realm="arthas webconsole"'
        )


def test_auth_accepts_password_or_basic(secured: tuple[Target, str]) -> None:
    target, host = secured
    token = base64.b64encode(f"arthas:{PASSWORD}".encode()).decode()
    for query, headers in (
        ("?password=" + PASSWORD.replace(" ", "%20"), None),
        ("", {"Authorization": f"Basic {token}"}),
    ):
        t = Term(target, query, host=host, additional_headers=headers)
        try:
            t.wait_for(t.prompt)
            assert re.fullmatch(r"0\.\d+\.\d+", t.run("version")[0])
        finally:
            t.close()
