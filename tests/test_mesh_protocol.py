"""spec/004 conformance: every example and error code, against a real `livescope mesh` process."""

from __future__ import annotations

import base64
import json
import socket
import time
import urllib.error
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from support.mesh_nodes import MeshNode

HOOKS = """
import json

async def on_handshake(conn, request):
    return request.query.get("key") != "refused"

async def on_message(conn, frame):
    if conn.path != "/login":
        await conn.push(conn.path.strip("/"), {"frame": frame})
        return
    if frame["data"] == "whoami":
        conn.send(json.dumps(conn.context, sort_keys=True))
        return
    user = conn.context.get("user_id")
    if user is None:
        await conn.push("login", {"frame": frame})
        await conn.wait_context_value("user_id", timeout=20)
        return
    await conn.push("chat", {"user": user, "frame": frame})
"""


def ws_connect(url: str) -> ClientConnection:
    """A connection kept beyond one ``with`` block (entered, so no legacy-use warning)."""
    return connect(url, open_timeout=10).__enter__()


class Api:
    """A back-end connection to /ws/v1 that separates replies from queue.pop events."""

    def __init__(self, url: str) -> None:
        self.ws = ws_connect(url)
        self.events: list[dict[str, Any]] = []

    def raw(self, payload: Any) -> dict[str, Any]:
        self.ws.send(json.dumps(payload))
        while True:
            message = json.loads(self.ws.recv(timeout=10))
            if "e" in message:
                self.events.append(message)
                continue
            return message

    def call(self, method: str, params: Any, request_id: Any = 12345) -> dict[str, Any]:
        return self.raw({"m": method, "p": params, "i": request_id})

    def event(self, timeout: float = 10) -> dict[str, Any]:
        if self.events:
            return self.events.pop(0)
        message = json.loads(self.ws.recv(timeout=timeout))
        assert "e" in message, message
        return message

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshNode]:
    hooks = tmp_path_factory.mktemp("hooks") / "hooks.py"
    hooks.write_text(HOOKS)
    mesh = MeshNode("--hooks", str(hooks))
    yield mesh
    mesh.kill()


@pytest.fixture
def api(node: MeshNode) -> Iterator[Api]:
    client = Api(node.api_ws)
    yield client
    client.close()


def connect_client(node: MeshNode, api: Api, topic: str = "chat") -> tuple[ClientConnection, str]:
    """An end user on /<topic>; its client id learnt, as a back end would, from queue.pop."""
    assert api.call("queue.pop", {"t": [topic]}) == {"E": None, "r": {"s": True}, "i": 12345}
    user = ws_connect(node.client_url("/" + topic))
    user.send("hello")
    event = api.event()
    assert api.call("queue.unpop", {}) == {"E": None, "r": {"s": True}, "i": 12345}
    return user, event["p"]["c"]


def test_queue_pop_event_shape(node: MeshNode, api: Api) -> None:
    assert api.call("queue.pop", {"t": ["topic1"]}) == {"E": None, "r": {"s": True}, "i": 12345}
    with connect(node.client_url("/topic1")) as user:
        user.send("json str")
        event = api.event()
        user.send(b"\x00\xffbin")
        binary = api.event()
    assert event["e"] == "queue.pop" and event["id"] is None
    params = event["p"]
    assert params["n"] == 1 and params["t"] == "topic1"
    assert isinstance(params["c"], str) and len(params["c"]) == 19
    assert params["d"] == {"frame": {"type": "text", "data": "json str", "finish": True}}
    frame = binary["p"]["d"]["frame"]
    assert frame["type"] == "binary" and base64.b64decode(frame["data"]) == b"\x00\xffbin"


def test_queue_pop_errors_and_unpop(node: MeshNode, api: Api) -> None:
    assert api.call("queue.pop", {"t": "topic1"})["E"]["c"] == 101
    assert api.call("queue.pop", {"t": []})["E"]["c"] == 101
    assert api.call("queue.pop", ["topic1"]) == {"E": None, "r": {"s": True}, "i": 12345}
    repeated = api.call("queue.pop", {"t": ["topic2"]})
    assert repeated["E"]["c"] == 202 and repeated["i"] == 12345 and "r" not in repeated
    assert api.call("queue.unpop", {}) == {"E": None, "r": {"s": True}, "i": 12345}
    assert api.call("queue.pop", {"t": ["topic2"]})["E"] is None


def test_queue_waits_for_a_consumer_and_consumers_compete(node: MeshNode, api: Api) -> None:
    with connect(node.client_url("/backlog")) as user:
        user.send("before anyone listens")
        time.sleep(0.3)
        assert api.call("queue.pop", {"t": ["backlog"]})["E"] is None
        assert api.event()["p"]["d"]["frame"]["data"] == "before anyone listens"
        other = Api(node.api_ws)
        try:
            assert other.call("queue.pop", {"t": ["backlog"]})["E"] is None
            for n in range(4):
                user.send(f"m{n}")
            got = [api.event()["p"]["d"]["frame"]["data"] for _ in range(2)]
            got += [other.event()["p"]["d"]["frame"]["data"] for _ in range(2)]
        finally:
            other.close()
    assert sorted(got) == ["m0", "m1", "m2", "m3"]


def test_http_send(node: MeshNode, api: Api) -> None:
    user, client_id = connect_client(node, api)
    with user:
        assert node.post("/v1/mesh/send", {"c": client_id, "d": "data"}) == {
            "E": None,
            "r": {"s": True},
        }
        assert user.recv(timeout=5) == "data"
        raw = base64.b64encode(b"\x01\x02").decode()
        body = {"c": int(client_id), "d": raw, "t": "binary"}
        assert node.post("/v1/mesh/send", body)["r"] == {"s": True}
        assert user.recv(timeout=5) == b"\x01\x02"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"d": "data"}, 101),
        ({"c": "not-an-id", "d": "data"}, 101),
        ({"c": "1463786910324359168"}, 101),
        ({"c": "1463786910324359168", "d": "x", "t": "video"}, 101),
        ({"c": "1463786910324359168", "d": "%%%", "t": "binary"}, 101),
        (b"{not json", 101),
        ({"c": "1463786910324359168", "d": "data"}, 401),
    ],
)
def test_http_send_errors(node: MeshNode, body: Any, code: int) -> None:
    reply = node.post("/v1/mesh/send", body)
    assert set(reply) == {"E"} and reply["E"]["c"] == code and reply["E"]["m"]


def test_send_to_disconnected_client_is_401(node: MeshNode, api: Api) -> None:
    user, client_id = connect_client(node, api)
    user.close()
    time.sleep(0.3)
    assert node.post("/v1/mesh/send", {"c": client_id, "d": "x"})["E"]["c"] == 401


def test_subscribe_publish_unsubscribe(node: MeshNode, api: Api) -> None:
    first, id1 = connect_client(node, api)
    second, id2 = connect_client(node, api)
    with first, second:
        for client_id in (id1, id2):
            reply = api.call(
                "conn.call", {"c": client_id, "f": "subscribe", "a": ["channel1", "channel2"]}
            )
            assert reply == {"E": None, "r": {"s": True}, "i": 12345}
        assert node.post("/v1/mesh/publish", {"c": "channel1", "d": "data"}) == {
            "E": None,
            "r": {"s": 2, "f": 0},
        }
        assert first.recv(timeout=5) == "data" and second.recv(timeout=5) == "data"
        reply = api.call("mesh.publish", {"c": "channel2", "d": "ws"}, request_id=7)
        assert reply == {"E": None, "r": {"s": 2, "f": 0}, "i": 7}
        assert first.recv(timeout=5) == "ws"
        unsub = {"c": id1, "f": "unsubscribe", "a": ["channel1", "channel2"]}
        assert api.call("conn.call", unsub)["E"] is None
        assert node.post("/v1/mesh/publish", {"c": "channel1", "d": "x"})["r"] == {"s": 1, "f": 0}
        assert node.post("/v1/mesh/publish", {"c": "nobody", "d": "x"})["r"] == {"s": 0, "f": 0}


@pytest.mark.parametrize("compression", ["deflate", None])
def test_every_frame_length_arrives_intact(node: MeshNode, compression: str | None) -> None:
    """The node frames a publish itself: 7-bit, 16-bit and 64-bit payload lengths, text and
    binary, reach a real client whether or not it negotiated permessage-deflate."""
    api = Api(node.api_ws)
    try:
        assert api.call("queue.pop", {"t": ["sizes"]})["E"] is None
        with connect(node.client_url("/sizes"), compression=compression) as user:
            user.send("hello")
            client_id = api.event()["p"]["c"]
            assert (
                api.call("conn.call", {"c": client_id, "f": "subscribe", "a": ["s"]})["E"] is None
            )
            for size in (0, 125, 126, 65535, 65536, 200_000):
                text = ("é" * size)[:size] if size else ""
                assert node.post("/v1/mesh/publish", {"c": "s", "d": text})["r"] == {"s": 1, "f": 0}
                assert user.recv(timeout=10) == text
                raw = bytes(range(256)) * (size // 256) + bytes(size % 256)
                body = {"c": "s", "d": base64.b64encode(raw).decode(), "t": "binary"}
                assert node.post("/v1/mesh/publish", body)["r"] == {"s": 1, "f": 0}
                assert user.recv(timeout=10) == raw
    finally:
        api.close()


@pytest.mark.parametrize(
    "body", [{"d": "x"}, {"c": "", "d": "x"}, {"c": "channel1"}, {"c": 5, "d": "x"}]
)
def test_publish_errors(node: MeshNode, api: Api, body: dict[str, Any]) -> None:
    assert set(node.post("/v1/mesh/publish", body)) == {"E"}
    assert node.post("/v1/mesh/publish", body)["E"]["c"] == 101
    reply = api.call("mesh.publish", body)
    assert reply["E"]["c"] == 101 and reply["i"] == 12345


def test_ws_mesh_send_accepts_id_and_replies_i(node: MeshNode, api: Api) -> None:
    user, client_id = connect_client(node, api)
    with user:
        reply = api.raw({"m": "mesh.send", "p": {"c": client_id, "d": "data"}, "id": 12345})
        assert reply == {"E": None, "r": {"s": True}, "i": 12345}
        assert user.recv(timeout=5) == "data"
    missing = api.raw({"m": "mesh.send", "p": {"c": "1463786910324359168", "d": "x"}, "id": 9})
    assert missing["E"]["c"] == 401 and missing["i"] == 9
    assert api.call("mesh.send", {"d": "x"})["E"]["c"] == 101


def test_context_login_holds_messages(node: MeshNode, api: Api) -> None:
    assert api.call("queue.pop", {"t": ["login", "chat"]})["E"] is None
    with connect(node.client_url("/login")) as user:
        user.send("credentials")
        login = api.event()
        assert login["p"]["t"] == "login"
        client_id = login["p"]["c"]
        user.send("held until login")
        with pytest.raises(TimeoutError):
            api.event(timeout=0.5)
        call = {"c": client_id, "f": "set_context_value", "a": ["user_id", 10000]}
        assert api.call("conn.call", call) == {"E": None, "r": {"s": True}, "i": 12345}
        chat = api.event()
        assert chat["p"]["t"] == "chat" and chat["p"]["d"]["user"] == 10000
        assert chat["p"]["d"]["frame"]["data"] == "held until login"
        call = {"c": client_id, "f": "set_context", "a": [{"room": "a"}]}
        assert api.call("conn.call", call)["E"] is None
        user.send("whoami")
        assert json.loads(user.recv(timeout=5)) == {"room": "a", "user_id": 10000}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"c": "1458271556210786304", "f": "explode", "a": []}, 101),
        ({"c": "1458271556210786304", "f": "set_context_value", "a": ["only-key"]}, 101),
        ({"c": "1458271556210786304", "f": "set_context", "a": ["not-a-dict"]}, 101),
        ({"c": "1458271556210786304", "f": "subscribe", "a": "channel1"}, 101),
        ({"f": "subscribe", "a": ["channel1"]}, 101),
        ({"c": "1458271556210786304", "f": "set_context_value", "a": ["user_id", 1]}, 301),
    ],
)
def test_conn_call_errors(api: Api, params: dict[str, Any], code: int) -> None:
    reply = api.call("conn.call", params)
    assert reply["E"]["c"] == code and reply["i"] == 12345 and "r" not in reply


def test_unknown_method_and_bad_json(api: Api) -> None:
    assert api.call("no.such", {})["E"]["c"] == 101
    api.ws.send("{oops")
    reply = json.loads(api.ws.recv(timeout=5))
    assert reply["E"]["c"] == 101 and reply["i"] is None


def test_ping_text_and_frame(node: MeshNode, api: Api) -> None:
    api.ws.send("ping")
    assert api.ws.recv(timeout=5) == "pong"
    assert api.ws.ping().wait(5)
    with connect(node.client_url("/anything/at/all")) as user:
        user.send("ping")
        assert user.recv(timeout=5) == "pong"
        assert user.ping().wait(5)


def test_nodes_health_and_metrics(node: MeshNode, api: Api) -> None:
    user, client_id = connect_client(node, api)
    with user:
        node.post("/v1/mesh/send", {"c": client_id, "d": "x"})
        nodes = node.http("GET", "/v1/nodes")["nodes"]
        assert [n["id"] for n in nodes] == [1] and nodes[0]["clients"] >= 1
        assert node.http("GET", "/healthz")["ok"] is True
        text = node.http("GET", "/metrics")
    assert 'mesh_clients{node="1"}' in text
    assert "mesh_messages_in_total" in text and "mesh_messages_out_total" in text
    assert 'mesh_send_duration_seconds_count{node="1",route="local"}' in text
    assert 'mesh_send_duration_seconds_sum{node="1",route="forwarded"}' in text


def test_handshake_refused_by_hook(node: MeshNode) -> None:
    with pytest.raises(InvalidStatus) as info:
        connect(node.client_url("/chat?key=refused"), open_timeout=5)
    assert info.value.response.status_code == 403


def test_limits_message_size_idle_and_slow_client() -> None:
    mesh = MeshNode(
        "--max-message-size", "1024", "--idle-timeout", "1", "--outbound-budget", "65536"
    )
    try:
        with connect(mesh.client_url("/big")) as user:
            user.send("x" * 2000)
            with pytest.raises(ConnectionClosed) as closed:
                user.recv(timeout=5)
            assert closed.value.rcvd.code == 1009
        with connect(mesh.client_url("/idle")) as user:
            started = time.monotonic()
            with pytest.raises(ConnectionClosed):
                user.recv(timeout=10)
            assert 0.5 < time.monotonic() - started < 5
        _slow_client_is_dropped(mesh)
    finally:
        mesh.kill()


def _slow_client_is_dropped(mesh: MeshNode) -> None:
    api = Api(mesh.api_ws)
    reader = ws_connect(mesh.client_url("/slow"))
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", mesh.client_port))
    key = base64.b64encode(b"0123456789abcdef").decode()
    slow.sendall(
        f"GET /slow HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert b"101" in slow.recv(200)
    try:
        api.call("queue.pop", {"t": ["slow"]})
        ids = []
        for ws_send in (reader.send, None):
            if ws_send:
                ws_send("hi")
            else:
                slow.sendall(b"\x81\x82abcd\x09\x0b")  # "hi" masked with "ab"
            ids.append(api.event()["p"]["c"])
        for client_id in ids:
            api.call("conn.call", {"c": client_id, "f": "subscribe", "a": ["firehose"]})
        failures = 0
        started = time.monotonic()
        for _ in range(200):
            reply = mesh.post("/v1/mesh/publish", {"c": "firehose", "d": "y" * 16384})
            failures += reply["r"]["f"]
            if reply["r"]["s"] + reply["r"]["f"] == 1:
                break  # the slow client is gone
            reader.recv(timeout=5)
        assert failures >= 1 and time.monotonic() - started < 30
        assert mesh.post("/v1/mesh/publish", {"c": "firehose", "d": "still"})["r"] == {
            "s": 1,
            "f": 0,
        }
    finally:
        slow.close()
        reader.close()
        api.close()


def test_api_token_bearer_basic_and_ws() -> None:
    mesh = MeshNode("--token", "s3cret")
    try:
        body = {"c": "channel1", "d": "x"}
        with pytest.raises(urllib.error.HTTPError) as denied:
            mesh.post("/v1/mesh/publish", body)
        assert denied.value.code == 401
        bearer = {"Authorization": "Bearer s3cret"}
        assert mesh.post("/v1/mesh/publish", body, bearer)["r"] == {"s": 0, "f": 0}
        basic = {"Authorization": "Basic " + base64.b64encode(b"backend:s3cret").decode()}
        assert mesh.post("/v1/mesh/publish", body, basic)["E"] is None
        with pytest.raises(InvalidStatus):
            connect(mesh.api_ws, open_timeout=5)
        authed = Api(mesh.api_ws + "?token=s3cret")
        assert authed.call("mesh.publish", body)["r"] == {"s": 0, "f": 0}
        authed.close()
        assert mesh.http("GET", "/healthz")["ok"] is True
    finally:
        mesh.kill()
