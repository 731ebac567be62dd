"""The web console at ``/ui/`` in a real browser (Debian's Chromium, driven by Playwright).

A person opens the agent's address, sees the banner and prompt, types commands, uses Tab and
Ctrl-C, resizes the window and sees the agent go away. The screen is read through xterm.js's own
buffer (``window.term``), the frames the page sends through the browser's WebSocket events.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import livescope
from support.targets import Target

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDE = {"width": 1100, "height": 700}
NARROW = {"width": 420, "height": 700}
LOOP = """
import time

def tick(i):
    return i * 2

print("READY", flush=True)
i = 0
while True:
    tick(i)
    i += 1
    time.sleep(0.02)
"""
# rows of xterm's active buffer, and which rows continue the row above (soft-wrapped)
READ_BUFFER = """() => {
    const buffer = term.buffer.active, rows = [], wrapped = [];
    for (let i = 0; i < buffer.length; i++) {
        const line = buffer.getLine(i);
        rows.push(line.translateToString(true));
        wrapped.push(line.isWrapped);
    }
    return {rows, wrapped, cursor: buffer.baseY + buffer.cursorY};
}"""


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (scripts/bootstrap installs Debian's chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is missing (pip install -e '.[test]')"
    )
    with sync_api.sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def launch(playwright: Any) -> Iterator[Callable[..., Any]]:
    """Start Chromium on a new, empty profile; every browser started is closed at module end."""
    contexts: list[Any] = []
    profiles: list[tempfile.TemporaryDirectory] = []

    def start(**options: Any) -> Any:
        profiles.append(tempfile.TemporaryDirectory(prefix="livescope-chromium-"))
        context = playwright.chromium.launch_persistent_context(
            profiles[-1].name,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=WIDE,
            **options,
        )
        contexts.append(context)
        return context

    yield start
    for context in contexts:
        with contextlib.suppress(Exception):
            context.close()
    for profile in profiles:
        profile.cleanup()


@pytest.fixture(scope="module")
def browser(launch: Callable[..., Any]) -> Any:
    return launch()


@pytest.fixture
def target(make_target: Callable[..., Target]) -> Target:
    target = make_target(LOOP)
    target.wait_for_output("READY")
    return target


class Console:
    """One browser tab on the web console: the keyboard, xterm's screen, the frames sent."""

    def __init__(self, page: Any, target: Target) -> None:
        self.page = page
        self.prompt = f"[livescope@{target.pid}]$"  # as a screen row shows it (right-trimmed)
        self.sent: list[dict] = []
        page.on("websocket", self._watch_socket)

    def _watch_socket(self, ws: Any) -> None:
        ws.on("framesent", lambda payload: self.sent.append(json.loads(payload)))

    def screen(self) -> dict:
        """xterm's rows up to the cursor's (it keeps blank rows below), and which are wrapped."""
        screen = self.page.evaluate(READ_BUFFER)
        end = screen["cursor"] + 1
        return {"rows": screen["rows"][:end], "wrapped": screen["wrapped"][:end]}

    def rows(self) -> list[str]:
        return [row.rstrip() for row in self.screen()["rows"]]  # written blanks stay in a row

    def lines(self) -> list[str]:
        """Rows with the soft-wrapped ones joined back onto their line."""
        screen = self.screen()
        joined: list[str] = []
        for row, wrapped in zip(screen["rows"], screen["wrapped"], strict=True):
            if wrapped and joined:
                joined[-1] += row
            else:
                joined.append(row)
        return [line.rstrip() for line in joined]

    def wait(self, check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
        """``check()`` once it is neither None nor False (an empty list is an answer)."""
        deadline = time.monotonic() + timeout
        while (result := check()) is None or result is False:
            if time.monotonic() > deadline:
                shown = "\n".join(self.rows()[-30:])
                raise AssertionError(f"{what} not shown; the screen ends with:\n{shown}")
            time.sleep(0.05)
        return result

    def wait_prompt(self, after: int = -1) -> list[str]:
        """The rows below row ``after``, once a fresh prompt is on the cursor's row."""

        def fresh() -> list[str] | None:
            rows = self.rows()
            if len(rows) - 1 > after and rows[-1] == self.prompt:
                return rows[after + 1 : -1]
            return None

        return self.wait(fresh, "a fresh prompt")

    def run(self, command: str) -> list[str]:
        """Type ``command`` and Enter; the lines it printed before the prompt came back."""
        self.page.keyboard.type(command)
        self.page.keyboard.press("Enter")
        self.wait_prompt(len(self.rows()) - 1)
        lines = self.lines()
        typed = len(lines) - 1 - lines[::-1].index(f"{self.prompt} {command}")
        return lines[typed + 1 : -1]

    def resizes(self) -> list[tuple[int, int]]:
        return [(f["cols"], f["rows"]) for f in self.sent if f.get("action") == "resize"]

    def size(self) -> tuple[int, int]:
        return tuple(self.page.evaluate("[term.cols, term.rows]"))

    def closed_message(self) -> str:
        bar = self.page.locator("#closed")
        bar.wait_for(state="visible", timeout=20000)
        return bar.inner_text()


@pytest.fixture
def open_console(browser: Any) -> Iterator[Callable[..., Console]]:
    """Open the console of ``target`` in a new tab at ``path`` and wait for its prompt."""
    pages: list[Any] = []

    def opener(
        target: Target, path: str = "/", prepare: Callable[[Any], object] = lambda page: None
    ) -> Console:
        page = browser.new_page()
        pages.append(page)
        console = Console(page, target)
        prepare(page)  # before the page loads: clocks, routes
        page.goto(target.url + path)
        console.wait_prompt()
        return console

    yield opener
    for page in pages:
        with contextlib.suppress(Exception):
            page.close()


# -- what the agent serves ----------------------------------------------------------------------


def test_console_files_are_served_with_their_types_and_revalidated(target: Target) -> None:
    types = {
        "/ui/": "text/html",
        "/ui/console.js": "text/javascript",
        "/ui/vendor/xterm.js": "text/javascript",
        "/ui/vendor/addon-fit.js": "text/javascript",
        "/ui/vendor/xterm.css": "text/css",
    }
    for path, content_type in types.items():
        response = httpx.get(target.url + path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == f"{content_type}; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
        again = httpx.get(target.url + path, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
    assert "Terminal" in httpx.get(target.url + "/ui/vendor/xterm.js").text
    redirect = httpx.get(target.url + "/?quiet=true")
    assert redirect.status_code == 302 and redirect.headers["location"] == "/ui/?quiet=true"


# -- in the browser -----------------------------------------------------------------------------


def test_page_shows_banner_and_prompt(target: Target, open_console) -> None:
    console = open_console(target)
    assert console.page.url == target.url + "/ui/"
    rows = console.rows()
    assert rows[0] == "livescope"
    assert any(re.fullmatch(rf"version\s+{re.escape(livescope.__version__)}", r) for r in rows)
    assert any(re.fullmatch(rf"pid\s+{target.pid}", r) for r in rows)
    # the size goes out as soon as the socket opens, and it is the size the page shows
    assert console.resizes()[0] == console.size()
    assert console.size()[0] > 80


def test_reload_revalidates_and_reconnects(target: Target, open_console) -> None:
    console = open_console(target)
    statuses: dict[str, int] = {}
    console.page.on("response", lambda r: statuses.setdefault(r.url.rsplit("/", 1)[1], r.status))
    console.page.reload()
    console.wait_prompt()
    assert statuses["xterm.js"] == statuses["console.js"] == 304  # unchanged: not sent again


def test_quiet_is_passed_to_the_terminal(target: Target, open_console) -> None:
    console = open_console(target, "/?quiet=true")
    assert console.page.url.endswith("/ui/?quiet=true")
    assert console.rows() == [console.prompt]


def test_typed_command_runs(target: Target, open_console) -> None:
    console = open_console(target)
    assert console.run("version") == [livescope.__version__]
    reads = [f["data"] for f in console.sent if f.get("action") == "read"]
    assert "".join(reads) == "version\r"  # one read frame per keystroke, as typed


def test_tab_completes_a_command(target: Target, open_console) -> None:
    console = open_console(target)
    console.page.keyboard.type("vers")
    console.page.keyboard.press("Tab")
    console.wait(lambda: console.rows()[-1].startswith(f"{console.prompt} version"), "version")
    row = len(console.rows()) - 1
    console.page.keyboard.press("Enter")
    assert console.wait_prompt(row) == [livescope.__version__]


def test_watch_streams_until_ctrl_c(target: Target, open_console) -> None:
    console = open_console(target)
    row = len(console.rows()) - 1
    console.page.keyboard.type("watch __main__ tick -x 2")
    console.page.keyboard.press("Enter")
    console.wait(lambda: "Press Q or Ctrl+C to abort." in console.lines(), "the watch banner")

    def calls() -> int:
        return sum("method=__main__.tick" in line for line in console.lines())

    console.wait(lambda: calls() >= 3, "three watched calls")
    assert console.rows()[-1] != console.prompt  # no prompt while the watch runs
    console.page.keyboard.press("Control+C")
    console.wait_prompt(row)
    assert {"action": "read", "data": "\x03"} in console.sent
    # the watch is over: the next command's output is not interleaved with watched calls
    stopped = calls()
    assert console.run("version") == [livescope.__version__]
    assert calls() == stopped


def test_resizing_the_window_resizes_the_terminal(target: Target, open_console) -> None:
    console = open_console(target)
    wide_cols = console.size()[0]
    console.run("thread")
    long_lines = [line for line in console.lines() if len(line) > NARROW["width"] // 8]
    assert long_lines, "thread printed no line wider than the narrow window"

    console.page.set_viewport_size(NARROW)
    narrow_cols = console.wait(
        lambda: console.size()[0] < wide_cols and console.size()[0], "fewer columns"
    )
    console.wait(lambda: console.resizes()[-1][0] == narrow_cols, "the resize frame")
    # what was printed wide now wraps at the new width, nothing lost
    assert all(len(row) <= narrow_cols for row in console.rows())
    assert all(line in console.lines() for line in long_lines)
    # the agent lays out for the new width: Tab's candidates fit in it, over several rows
    row = len(console.rows()) - 1
    console.page.keyboard.type("s")
    console.page.keyboard.press("Tab")
    console.wait(lambda: "sysprop" in " ".join(console.rows()[row + 1 :]), "the candidates")
    listing = console.rows()[row + 1 : -1]
    assert len(listing) > 1 and all(len(r) <= narrow_cols for r in listing)
    console.page.keyboard.press("Control+U")
    # a command line longer than the screen goes on in the next row, and so does its output
    row = len(console.rows()) - 1
    typed = "echo " + "a" * narrow_cols
    console.page.keyboard.type(typed)
    console.page.keyboard.press("Enter")
    console.wait_prompt(row)
    assert "".join(console.rows()[row : row + 2]) == f"{console.prompt} {typed}"
    assert "a" * narrow_cols in console.lines()


def test_keep_alive_read_every_30_seconds(target: Target, open_console) -> None:
    console = open_console(target, prepare=lambda page: page.clock.install())
    keep_alive = {"action": "read", "data": ""}
    assert keep_alive not in console.sent
    console.page.clock.fast_forward("00:31")
    console.wait(lambda: keep_alive in console.sent, "a keep-alive read")
    assert console.run("version") == [livescope.__version__]


def test_exit_shows_closed_and_reconnect_opens_a_new_session(target: Target, open_console) -> None:
    console = open_console(target)
    console.page.keyboard.type("exit")
    console.page.keyboard.press("Enter")
    assert "Connection to the agent closed: bye (code 1000)." in console.closed_message()
    console.wait(lambda: "[connection closed: bye (code 1000)" in console.rows()[-2], "a note")
    row = len(console.rows()) - 1
    console.page.get_by_role("button", name="Reconnect").click()
    console.wait(lambda: "livescope" in console.rows()[row:], "a new banner")
    console.wait_prompt(row)
    assert console.page.locator("#closed").is_hidden()
    assert console.run("version") == [livescope.__version__]


def test_stop_shows_the_agent_is_gone(target: Target, open_console) -> None:
    console = open_console(target)
    console.page.keyboard.type("stop")
    console.page.keyboard.press("Enter")
    assert "Connection to the agent closed: bye (code 1000)." in console.closed_message()
    with pytest.raises(httpx.ConnectError):
        httpx.get(target.url + "/ui/", timeout=5)
    assert target.proc.poll() is None  # the program goes on without its agent
    # Enter in the closed terminal tries again, and says why that failed
    console.page.keyboard.press("Enter")
    console.wait(lambda: "code 1006" in console.page.locator("#closed").inner_text(), "1006")


def test_close_code_2000_is_alerted(target: Target, browser: Any) -> None:
    # only a tunnel server closes with 2000; the page's socket is answered by a stand-in here
    reason = "Can not find arthas agent by id: nosuch"
    page = browser.new_page()
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    page.route_web_socket("**/ws", lambda ws: ws.close(code=2000, reason=reason))
    try:
        page.goto(target.url + "/")
        page.locator("#closed").wait_for(state="visible")
        assert alerts == [reason]
        assert reason in page.locator("#closed").inner_text()
    finally:
        page.close()


LOGIN = {"username": "arthas", "password": "s3cret"}


@pytest.mark.parametrize(
    "path, credentials",
    [
        ("/", LOGIN),  # what the browser asks the person for, sent as Basic auth
        ("/ui/", LOGIN),
        ("/ui/?password=s3cret", None),  # the page passes it on to /ws
    ],
)
def test_password_protected_console(
    make_target: Callable[..., Target], launch, path: str, credentials: dict | None
) -> None:
    # loopback is not exempt here, so the browser on this machine must log in like any other
    target = make_target(LOOP, start_kwargs=', password="s3cret", loopback_exempt=False')
    target.wait_for_output("READY")
    assert httpx.get(target.url + "/ui/").status_code == 401
    context = launch(http_credentials=credentials)
    console = Console(context.new_page(), target)
    console.page.goto(target.url + path)
    console.wait_prompt()
    assert console.run("version") == [livescope.__version__]
