"""The agent's HTTP layer against a real target: reference §1 and checklist §8 items 1-8.

One target serves the whole module (starting one costs about a second); every test talks to it
over real HTTP (httpx) or a raw socket where the exact bytes on the wire matter.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
import websockets

from support.targets import Target

TARGET = """
import time, os
from livescope.agent import runtime
out = runtime.current().output_dir
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "profile.html"), "w") as f:
    f.write("<html>flame</html>")
print("OUTPUT", out, flush=True)
while True:
    time.sleep(0.5)
"""


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    with Target(TARGET) as t:
        t.wait_for_output("OUTPUT")
        yield t


def raw(target: Target, data: bytes, timeout: float = 10.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", target.port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def post(path: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def split(response: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, body


VERSION = b'{"action":"exec","command":"version"}'


def test_item_01_post_api_returns_json(target: Target) -> None:
    response = httpx.post(target.url + "/api", content=VERSION)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json()["state"] == "SUCCEEDED"


def test_item_02_connection_close_and_length(target: Target) -> None:
    # the server must close the socket by itself: raw() only returns on EOF
    status, headers, body = split(raw(target, post("/api", VERSION)))
    assert status == "HTTP/1.1 200 "
    assert headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body)
    assert json.loads(body)["state"] == "SUCCEEDED"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_item_03_get_is_refused(target: Target, method: str) -> None:
    response = httpx.request(method, target.url + "/api")
    assert response.status_code == 200
    assert response.content == (
        b'{"state":"REFUSED","message":"Unsupported http method: ' + method.encode() + b'"}'
    )


def test_item_03_head_is_refused_headers_only(target: Target) -> None:
    status, headers, body = split(raw(target, b"HEAD /api HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert status.startswith("HTTP/1.1 200")
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert int(headers["content-length"]) == len(
        b'{"state":"REFUSED","message":"Unsupported http method: HEAD"}'
    )
    assert body == b""


@pytest.mark.parametrize("path", ["/api/", "/apix", "/api/x"])
def test_item_04_other_paths_are_404(target: Target, path: str) -> None:
    response = httpx.post(target.url + path, content=VERSION)
    assert response.status_code == 404
    assert response.text == "Not found"
    assert response.headers["content-type"].startswith("text/plain")


def test_item_04_query_string_does_not_change_routing(target: Target) -> None:
    response = httpx.post(target.url + "/api?foo=bar", content=VERSION)
    assert response.json()["state"] == "SUCCEEDED"


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "application/json", None]
)
def test_item_05_any_content_type(target: Target, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = httpx.post(target.url + "/api", content=VERSION, headers=headers)
    assert response.json()["body"]["results"][0]["type"] == "version"


def test_item_05_body_read_as_utf8(target: Target) -> None:
    body = '{"action":"exec","command":"echo ünïcødé ✓"}'.encode()
    response = httpx.post(
        target.url + "/api", content=body, headers={"Content-Type": "text/plain; charset=latin-1"}
    )
    assert "ünïcødé ✓" in response.content.decode("utf-8")


@pytest.mark.parametrize(
    "body", [b"", b"{not json", b'{"action":"nope"}', b'{"action":"exec","command":"nosuch"}']
)
def test_item_06_failed_is_still_200(target: Target, body: bytes) -> None:
    response = httpx.post(target.url + "/api", content=body)
    assert response.status_code == 200
    assert response.json()["state"] in ("FAILED", "REFUSED")


def test_item_07_asession_cookie(target: Target) -> None:
    for request in (
        lambda: httpx.post(target.url + "/api", content=VERSION),
        lambda: httpx.get(target.url + "/api"),
        lambda: httpx.post(target.url + "/api", content=b""),
    ):
        cookie = request().headers["set-cookie"]
        assert re.fullmatch(r"asession=[A-Za-z0-9]{32}", cookie), cookie


def test_item_07_issued_cookie_is_kept(target: Target) -> None:
    first = httpx.post(target.url + "/api", content=VERSION)
    value = first.cookies["asession"]
    again = httpx.post(target.url + "/api", content=VERSION, cookies={"asession": value})
    assert again.cookies["asession"] == value
    forged = httpx.post(target.url + "/api", content=VERSION, cookies={"asession": "x" * 32})
    assert forged.cookies["asession"] != "x" * 32  # only cookies the agent issued are kept


def test_item_08_no_cors_headers(target: Target) -> None:
    for response in (
        httpx.post(target.url + "/api", content=VERSION, headers={"Origin": "http://evil"}),
        httpx.options(target.url + "/api", headers={"Origin": "http://evil"}),
    ):
        assert not any(name.lower().startswith("access-control-") for name in response.headers)


def test_body_over_10_mib_is_413_from_content_length(target: Target) -> None:
    head = b"POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: " + str(10 * 1024 * 1024 + 1).encode()
    status, headers, _ = split(raw(target, head + b"\r\n\r\n{"))
    assert status.startswith("HTTP/1.1 413")
    assert headers["connection"] == "close"


def test_body_over_10_mib_is_413_while_streaming(target: Target) -> None:
    def chunks() -> Iterator[bytes]:
        block = b" " * (1024 * 1024)
        for _ in range(11):
            yield block

    try:
        response = httpx.post(target.url + "/api", content=chunks(), timeout=20)
    except httpx.HTTPError as exc:  # the server may close before the client finished sending
        pytest.fail(f"no 413 answer: {exc!r}")
    assert response.status_code == 413


def test_body_of_exactly_10_mib_is_accepted(target: Target) -> None:
    body = VERSION + b" " * (10 * 1024 * 1024 - len(VERSION))
    response = httpx.post(target.url + "/api", content=body, timeout=20)
    assert response.json()["state"] == "SUCCEEDED"


def test_expect_100_continue(target: Target) -> None:
    with socket.create_connection(("127.0.0.1", target.port), timeout=10) as sock:
        sock.sendall(
            post("/api", b"", "Expect: 100-continue\r\n").replace(b"Length: 0", b"Length: 37")
        )
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 ")
        sock.sendall(VERSION)
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
    status, _, body = split(interim.partition(b"\r\n\r\n")[2] + rest)
    assert status.startswith("HTTP/1.1 200")
    assert json.loads(body)["state"] == "SUCCEEDED"


def test_http_1_0_request(target: Target) -> None:
    data = post("/api", VERSION).replace(b"HTTP/1.1", b"HTTP/1.0")
    status, headers, body = split(raw(target, data))
    assert " 200 " in status + " "
    assert json.loads(body)["state"] == "SUCCEEDED"


def test_malformed_http_gets_400_and_agent_survives(target: Target) -> None:
    answer = raw(target, b"this is not http\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    assert httpx.post(target.url + "/api", content=VERSION).status_code == 200


def test_client_vanishing_mid_long_poll(target: Target) -> None:
    session = httpx.post(target.url + "/api", content=b'{"action":"init_session"}').json()
    pull = json.dumps(
        {
            "action": "pull_results",
            "sessionId": session["sessionId"],
            "consumerId": session["consumerId"],
        }
    ).encode()
    for _ in range(5):
        sock = socket.create_connection(("127.0.0.1", target.port))
        sock.sendall(post("/api", pull))
        sock.close()  # gone while the server waits up to 2 s for results
    started = time.monotonic()
    assert httpx.post(target.url + "/api", content=VERSION).json()["state"] == "SUCCEEDED"
    assert time.monotonic() - started < 1.0
    time.sleep(2.5)  # the abandoned polls have ended by now
    reply = httpx.post(target.url + "/api", content=pull, timeout=10).json()
    assert reply["state"] == "SUCCEEDED"
    assert target.proc.poll() is None


def test_root_and_ui_redirect(target: Target) -> None:
    for path in ("/", "/ui"):
        response = httpx.get(target.url + path)
        assert response.status_code == 302
        assert response.headers["location"] == "/ui/"


def test_ui_page(target: Target) -> None:
    response = httpx.get(target.url + "/ui/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()


def test_output_files_are_served(target: Target) -> None:
    listing = httpx.get(target.url + "/livescope-output/")
    assert 'href="profile.html"' in listing.text
    response = httpx.get(target.url + "/livescope-output/profile.html")
    assert response.status_code == 200
    assert response.text == "<html>flame</html>"
    assert httpx.get(target.url + "/livescope-output/missing.txt").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/livescope-output/../livescope-output/../../../etc/passwd",
        "/livescope-output/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/livescope-output//etc/passwd",
        "/ui/../agent/server.py",
        "/ui/%2e%2e/agent/server.py",
    ],
)
def test_no_path_traversal(target: Target, path: str) -> None:
    status, _, body = split(raw(target, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()))
    assert status.startswith("HTTP/1.1 404"), (status, body[:100])


def test_websocket_without_terminal_closes_1011(make_target) -> None:
    # a build without the terminal module (here: blocked from importing) refuses politely
    target = make_target(
        "import sys, time\nsys.modules['livescope.agent.terminal'] = None\n"
        "print('BLOCKED', flush=True)\nwhile True: time.sleep(0.5)\n"
    )
    target.wait_for_output("BLOCKED")

    async def connect() -> websockets.ConnectionClosed:
        async with websockets.connect(f"ws://127.0.0.1:{target.port}/ws") as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            return closed.value

    closed = asyncio.run(connect())
    assert closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (1011, "no terminal")


def test_keep_alive_when_enabled(make_target) -> None:
    target = make_target(
        "import time\nwhile True: time.sleep(1)\n", start_kwargs=", keep_alive=True"
    )
    with httpx.Client() as client:
        first = client.post(target.url + "/api", content=VERSION)
        second = client.post(target.url + "/api", content=VERSION)
        assert "close" not in first.headers.get("connection", "")
        assert second.json()["state"] == "SUCCEEDED"
        # a client asking to close is honoured
        third = client.post(target.url + "/api", content=VERSION, headers={"Connection": "close"})
        assert third.headers["connection"] == "close"
