"""Authentication (reference §1.1, checklist §8 items 65-69) against real targets.

The agent listens on 0.0.0.0 with a password, and the tests connect through the machine's own
non-loopback address, so the agent really sees a remote peer. On a machine without one, the
same checks run from loopback with the loopback exemption switched off.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from livescope.agent.auth import COOKIE_SESSIONS, Authenticator
from support.network import secured_target
from support.targets import Target

PASSWORD = "s3cret pass:word"
VERSION = b'{"action":"exec","command":"version"}'
IDLE = "import time\nwhile True:\n    time.sleep(0.5)\n"


@pytest.fixture(scope="module")
def secured() -> Iterator[tuple[Target, str]]:
    """A password-protected target and the base URL through which it sees a remote peer."""
    with secured_target(IDLE, PASSWORD) as (target, host):
        yield target, f"http://{host}:{target.port}"


def basic(user: str, password: str, scheme: str = "Basic") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"{scheme} {token}"}


def test_item_65_remote_without_credentials_is_401(secured: tuple[Target, str]) -> None:
    _, url = secured
    response = httpx.post(url + "/api", content=VERSION)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="arthas webconsole"'
    assert response.headers["content-type"] == "text/plain"
    assert response.headers["content-length"] == "0"
    assert response.headers["connection"] == "close"
    assert response.content == b""


@pytest.mark.parametrize("path", ["/api", "/ui/", "/ws", "/livescope-output/"])
def test_every_route_needs_credentials(secured: tuple[Target, str], path: str) -> None:
    _, url = secured
    assert httpx.get(url + path).status_code == 401


@pytest.mark.parametrize("scheme", ["Basic", "basic", "BASIC"])
def test_item_66_basic_auth_accepted(secured: tuple[Target, str], scheme: str) -> None:
    _, url = secured
    response = httpx.post(url + "/api", content=VERSION, headers=basic("arthas", PASSWORD, scheme))
    assert response.status_code == 200
    assert response.json()["state"] == "SUCCEEDED"


@pytest.mark.parametrize(
    "user, password", [("arthas", "wrong"), ("admin", PASSWORD), ("arthas", ""), ("", "")]
)
def test_item_66_wrong_basic_credentials_are_401(
    secured: tuple[Target, str], user: str, password: str
) -> None:
    _, url = secured
    headers = basic(user, password)
    assert httpx.post(url + "/api", content=VERSION, headers=headers).status_code == 401


def test_item_66_garbage_authorization_is_401(secured: tuple[Target, str]) -> None:
    _, url = secured
    for value in ("Basic !!!notbase64", "Bearer " + PASSWORD, "Basic", PASSWORD):
        response = httpx.post(url + "/api", content=VERSION, headers={"Authorization": value})
        assert response.status_code == 401


def test_item_67_password_in_query(secured: tuple[Target, str]) -> None:
    _, url = secured
    ok = httpx.post(url + "/api", params={"password": PASSWORD}, content=VERSION)
    assert ok.json()["state"] == "SUCCEEDED"
    named = httpx.post(
        url + "/api", params={"username": "arthas", "password": PASSWORD}, content=VERSION
    )
    assert named.json()["state"] == "SUCCEEDED"
    wrong = httpx.post(url + "/api", params={"password": "nope"}, content=VERSION)
    assert wrong.status_code == 401
    other_user = httpx.post(
        url + "/api", params={"username": "root", "password": PASSWORD}, content=VERSION
    )
    assert other_user.status_code == 401


def test_item_68_authenticated_cookie_is_enough(secured: tuple[Target, str]) -> None:
    _, url = secured
    first = httpx.post(url + "/api", content=VERSION, headers=basic("arthas", PASSWORD))
    cookie = first.cookies["asession"]
    again = httpx.post(url + "/api", content=VERSION, cookies={"asession": cookie})
    assert again.status_code == 200
    assert again.cookies["asession"] == cookie
    guessed = httpx.post(url + "/api", content=VERSION, cookies={"asession": "A" * 32})
    assert guessed.status_code == 401


def test_item_69_loopback_needs_no_password(make_target) -> None:
    target = make_target(IDLE, start_kwargs=f", password={PASSWORD!r}")
    response = httpx.post(target.url + "/api", content=VERSION)
    assert response.json()["state"] == "SUCCEEDED"


def test_item_69_loopback_exemption_can_be_disabled(make_target) -> None:
    target = make_target(IDLE, start_kwargs=f", password={PASSWORD!r}, loopback_exempt=False")
    assert httpx.post(target.url + "/api", content=VERSION).status_code == 401
    response = httpx.post(target.url + "/api", content=VERSION, headers=basic("arthas", PASSWORD))
    assert response.status_code == 200


def test_custom_username(make_target) -> None:
    target = make_target(
        IDLE, start_kwargs=f", password={PASSWORD!r}, username='ops', loopback_exempt=False"
    )
    headers = basic("ops", PASSWORD)
    assert httpx.post(target.url + "/api", content=VERSION, headers=headers).status_code == 200
    # ?password= alone means the configured user
    assert httpx.post(target.url + "/api", params={"password": PASSWORD}).status_code == 200
    wrong_user = {"username": "arthas", "password": PASSWORD}
    assert httpx.post(target.url + "/api", params=wrong_user).status_code == 401


def test_user_id_from_query_reaches_the_session(secured: tuple[Target, str]) -> None:
    _, url = secured
    params = {"password": PASSWORD, "userId": "alice"}
    reply = httpx.post(
        url + "/api", params=params, content=b'{"action":"exec","command":"session"}'
    ).json()
    assert reply["body"]["results"][0]["userId"] == "alice"


def test_authenticated_cookies_are_bounded() -> None:
    auth = Authenticator("pw", loopback_exempt=False)
    credentials = {"authorization": "Basic " + base64.b64encode(b"arthas:pw").decode()}
    first = auth.session_cookie(None)
    assert auth.check("10.0.0.9", credentials, {}, first)
    assert auth.check("10.0.0.9", {}, {}, first)
    for _ in range(COOKIE_SESSIONS):
        auth.session_cookie(None)
    assert not auth.check("10.0.0.9", {}, {}, first)  # evicted, least recently used
