"""A grid of real `livescope mesh --redis` nodes on a real redis-server."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator

import pytest
import redis
from websockets.sync.client import connect

from support.mesh_nodes import MeshNode, RedisServer
from test_mesh_protocol import Api, ws_connect

pytestmark = pytest.mark.skipif(
    not shutil.which("redis-server") and not shutil.which("/usr/bin/redis-server"),
    reason="redis-server is not installed",
)


@pytest.fixture
def grid() -> Iterator[tuple[RedisServer, list[MeshNode]]]:
    server = RedisServer()
    nodes: list[MeshNode] = []
    try:
        nodes.extend(MeshNode("--redis", server.url, "--claim-idle", "1") for _ in range(3))
        yield server, nodes
    finally:
        for node in nodes:
            node.kill()
        server.kill()


def node_id(node: MeshNode) -> int:
    return node.http("GET", "/healthz")["node"]


def learn_client(node: MeshNode, via: Api, topic: str):
    """Connect a user to ``node`` and learn its id from a consumer that may sit elsewhere."""
    user = ws_connect(node.client_url("/" + topic))
    user.send("hello")
    return user, via.event()["p"]


def test_send_call_and_publish_across_nodes(grid) -> None:
    _, (a, b, c) = grid
    assert sorted(n["id"] for n in a.http("GET", "/v1/nodes")["nodes"]) == sorted(
        node_id(n) for n in (a, b, c)
    )
    api = Api(a.api_ws)
    assert api.call("queue.pop", {"t": ["chat"]})["E"] is None
    on_b, event = learn_client(b, api, "chat")
    assert event["n"] == node_id(b) and event["t"] == "chat"
    on_c, event_c = learn_client(c, api, "chat")
    on_a, event_a = learn_client(a, api, "chat")
    with on_a, on_b, on_c:
        assert a.post("/v1/mesh/send", {"c": event["c"], "d": "across"}) == {
            "E": None,
            "r": {"s": True},
        }
        assert on_b.recv(timeout=5) == "across"
        for client in (event, event_c, event_a):
            sub = {"c": client["c"], "f": "subscribe", "a": ["news"]}
            assert api.call("conn.call", sub) == {"E": None, "r": {"s": True}, "i": 12345}
        assert c.post("/v1/mesh/publish", {"c": "news", "d": "all"})["r"] == {"s": 3, "f": 0}
        for user in (on_a, on_b, on_c):
            assert user.recv(timeout=5) == "all"
        ctx = {"c": event["c"], "f": "set_context", "a": [{"k": 1}]}
        assert api.call("conn.call", ctx)["E"] is None
        unsub = {"c": event_c["c"], "f": "unsubscribe", "a": ["news"]}
        assert api.call("conn.call", unsub)["E"] is None
        assert a.post("/v1/mesh/publish", {"c": "news", "d": "two"})["r"] == {"s": 2, "f": 0}
        metrics = a.http("GET", "/metrics")
        assert f'mesh_send_duration_seconds_count{{node="{node_id(a)}",route="forwarded"}} 1' in (
            metrics
        )
    api.close()


def test_node_killed_answers_401_fast_and_grid_keeps_working(grid) -> None:
    _, (a, b, c) = grid
    api = Api(a.api_ws)
    assert api.call("queue.pop", {"t": ["chat"]})["E"] is None
    doomed, on_b = learn_client(b, api, "chat")
    alive, on_c = learn_client(c, api, "chat")
    for client in (on_b, on_c):
        api.call("conn.call", {"c": client["c"], "f": "subscribe", "a": ["news"]})
    b.kill()
    doomed.close()
    started = time.monotonic()
    reply = a.post("/v1/mesh/send", {"c": on_b["c"], "d": "x"})
    assert reply["E"]["c"] == 401 and time.monotonic() - started < 1.0
    call = api.call("conn.call", {"c": on_b["c"], "f": "subscribe", "a": ["x"]})
    assert call["E"]["c"] == 301
    assert a.post("/v1/mesh/send", {"c": on_c["c"], "d": "still here"})["r"] == {"s": True}
    assert alive.recv(timeout=5) == "still here"
    assert a.post("/v1/mesh/publish", {"c": "news", "d": "n"})["r"] == {"s": 1, "f": 0}
    alive.close()
    api.close()


def test_queue_is_at_least_once_across_a_dead_consumer(grid) -> None:
    server, (a, b, c) = grid
    user = ws_connect(a.client_url("/jobs"))
    for n in range(20):
        user.send(f"job{n}")  # nobody consumes yet: the stream keeps them
    time.sleep(0.5)
    # A consumer that read entries and died before acknowledging them.
    direct = redis.Redis(port=server.port)
    ghost = direct.xreadgroup("mesh", "ghost", {"mesh:q:jobs": ">"}, count=5)
    assert len(ghost[0][1]) == 5
    c.kill()  # a node dies too; its queue entries were never its own
    api = Api(b.api_ws)
    assert api.call("queue.pop", {"t": ["jobs"]})["E"] is None
    seen = [api.event()["p"]["d"]["frame"]["data"] for _ in range(20)]
    assert sorted(seen) == sorted(f"job{n}" for n in range(20))
    other = Api(a.api_ws)  # competing consumer on another node gets its share of new entries
    assert other.call("queue.pop", {"t": ["jobs"]})["E"] is None
    for n in range(20, 30):
        user.send(f"job{n}")
    got = []
    deadline = time.monotonic() + 10
    while len(got) < 10 and time.monotonic() < deadline:
        for consumer in (api, other):
            with contextlib.suppress(TimeoutError):
                got.append(consumer.event(timeout=0.2)["p"]["d"]["frame"]["data"])
    assert sorted(got) == sorted(f"job{n}" for n in range(20, 30))
    direct.close()
    user.close()
    api.close()
    other.close()


def test_nodes_recover_after_redis_restart(grid) -> None:
    server, (a, b, _) = grid
    server.kill()
    time.sleep(0.5)
    assert a.post("/v1/mesh/send", {"c": "1463786910324359168", "d": "x"})["E"]["c"] == 401
    server.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if len(a.http("GET", "/v1/nodes")["nodes"]) == 3:
            break
        time.sleep(0.3)
    assert len(a.http("GET", "/v1/nodes")["nodes"]) == 3
    api = Api(a.api_ws)
    assert api.call("queue.pop", {"t": ["chat"]})["E"] is None
    with connect(b.client_url("/chat")) as user:
        user.send("after restart")
        event = api.event(timeout=15)["p"]
        assert event["d"]["frame"]["data"] == "after restart"
        deadline = time.monotonic() + 10
        while a.post("/v1/mesh/send", {"c": event["c"], "d": "back"})["E"] is not None:
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert user.recv(timeout=5) == "back"
    api.close()
