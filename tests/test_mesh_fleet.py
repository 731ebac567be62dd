"""Agents as mesh clients and ``livescope fleet``, with real nodes, real targets, real Redis.

Targets start their agent with ``livescope.start(mesh=...)`` or through ``LIVESCOPE_MESH``;
``livescope fleet`` runs as a user would run it, in its own process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

import livescope
from support.mesh_nodes import MeshNode, RedisServer, free_port
from support.pythons import available_pythons
from support.targets import Target
from test_mesh_protocol import Api

PYTHONS = available_pythons()
TARGET = """
import os, time

def tick(n):
    return n * 2

def ticking():
    when = os.environ.get("TICK", "1")  # "1" always, "0" never, else once that file exists
    return when == "1" or (when != "0" and os.path.exists(when))

print("ready", flush=True)
i = 0
while True:
    if ticking():
        tick(i)
    i += 1
    time.sleep(0.05)
"""
WATCH = ["watch", "__main__", "tick", "-n", "1"]

needs_redis = pytest.mark.skipif(
    not shutil.which("redis-server") and not os.path.exists("/usr/bin/redis-server"),
    reason="redis-server is not installed",
)


def fleet(node: MeshNode, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    api = f"http://127.0.0.1:{node.api_port}"
    command = [sys.executable, "-m", "livescope", "fleet", "--api", api, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def start_fleet(node: MeshNode, *args: str) -> subprocess.Popen[str]:
    """``livescope fleet`` left running; it prints "asked N agent(s)" once the requests are out."""
    api = f"http://127.0.0.1:{node.api_port}"
    command = [sys.executable, "-m", "livescope", "fleet", "--api", api, *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_process(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def fleet_json(node: MeshNode, *args: str) -> dict[str, Any]:
    done = fleet(node, *args, "--json")
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def wait_for_agents(node: MeshNode, count: int, timeout: float = 40.0) -> list[dict[str, Any]]:
    """``fleet list`` until it shows ``count`` agents (agents connect on their own time)."""
    deadline = time.monotonic() + timeout
    while True:
        agents = fleet_json(node, "list", "--timeout", "3")["agents"]
        if len(agents) == count:
            return agents
        assert time.monotonic() < deadline, f"wanted {count} agents, the fleet shows {agents}"


def python(version: str) -> str:
    return PYTHONS.get(version, sys.executable)


def start_target(
    make_target: Callable[..., Target], url: str, how: str, app: str = "shop", **kwargs: Any
) -> Target:
    """A target whose agent joins the mesh by ``start(mesh=...)`` or by the environment."""
    env = dict(kwargs.pop("env", {}))
    if how == "argument":
        kwargs["start_kwargs"] = f", mesh={url!r}, app={app!r}"
    else:
        env.update(LIVESCOPE_MESH=url, LIVESCOPE_APP=app)
    target = make_target(TARGET, env=env, **kwargs)
    target.wait_for_output("ready")
    return target


def by_pid(entries: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {entry["pid"]: entry for entry in entries}


def node_id(node: MeshNode) -> int:
    return node.http("GET", "/healthz")["node"]


@pytest.fixture
def grid() -> Iterator[tuple[MeshNode, MeshNode]]:
    server = RedisServer()
    nodes: list[MeshNode] = []
    try:
        nodes.extend(MeshNode("--redis", server.url, "--claim-idle", "1") for _ in range(2))
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.kill()
        server.kill()


@pytest.fixture
def three(grid, make_target) -> tuple[MeshNode, MeshNode, list[Target]]:
    """Three agents over two nodes, on three Pythons where the machine has them."""
    a, b = grid
    url_a, url_b = a.client_url("/livescope"), b.client_url("/livescope")
    targets = [
        start_target(make_target, url_a, "argument", python=python("3.10")),
        start_target(make_target, url_a, "environment"),
        start_target(make_target, url_b, "argument", python=python("3.13")),
    ]
    return a, b, targets


@needs_redis
def test_fleet_lists_and_runs_on_three_agents_over_two_nodes(three) -> None:
    a, b, targets = three
    agents = by_pid(wait_for_agents(a, 3))
    assert set(agents) == {t.pid for t in targets}
    for target in targets:
        agent = agents[target.pid]
        assert agent["app"] == "shop" and agent["version"] == livescope.__version__
        assert agent["api"] == target.url
        version = subprocess.run(
            [target.python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert agent["python"] == version
    assert agents[targets[2].pid]["node"] == node_id(b)
    assert agents[targets[0].pid]["node"] == node_id(a)
    assert set(by_pid(fleet_json(b, "list")["agents"])) == set(agents)  # from the other node

    done = fleet(b, "exec", "--app", "shop", "--json", "version")
    assert done.returncode == 0, done.stderr + done.stdout
    answers = by_pid(json.loads(done.stdout)["agents"])
    assert set(answers) == set(agents)
    for answer in answers.values():
        assert answer["state"] == "answered" and answer["reply"]["state"] == "SUCCEEDED"
        results = answer["reply"]["body"]["results"]
        assert {"type": "version", "version": livescope.__version__}.items() <= results[0].items()

    done = fleet(a, "exec", "--app", "shop", "--json", *WATCH)
    assert done.returncode == 0, done.stderr + done.stdout
    answers = by_pid(json.loads(done.stdout)["agents"])
    assert set(answers) == set(agents)
    for answer in answers.values():
        watches = [r for r in answer["reply"]["body"]["results"] if r["type"] == "watch"]
        assert len(watches) == 1 and watches[0]["methodName"] == "tick"
        (n,), _, doubled = watches[0]["value"]
        assert doubled == n * 2

    text = fleet(a, "exec", "--app", "shop", "version")
    assert text.returncode == 0, text.stderr
    assert "3 agent(s): 3 succeeded" in text.stdout
    assert all(str(t.pid) in text.stdout for t in targets)
    assert "asked 3 agent(s): version" in text.stderr


@needs_redis
def test_an_agent_killed_midway_is_reported_not_waited_for(grid, make_target) -> None:
    a, b = grid
    targets = [
        start_target(make_target, a.client_url("/livescope"), "argument"),
        start_target(make_target, b.client_url("/livescope"), "environment"),
        # this one never calls tick(): its watch waits until it is killed
        start_target(make_target, b.client_url("/livescope"), "argument", env={"TICK": "0"}),
    ]
    wait_for_agents(a, 3)
    proc = start_fleet(a, "exec", "--app", "shop", "--json", "--timeout", "60", *WATCH)
    try:
        assert "asked 3 agent(s)" in proc.stderr.readline()
        os.kill(targets[2].pid, signal.SIGKILL)
        killed = time.monotonic()
        out, err = proc.communicate(timeout=50)
    finally:
        stop_process(proc)
    assert time.monotonic() - killed < 30, "the fleet waited for the dead agent"
    assert proc.returncode == 1, err
    answers = by_pid(json.loads(out)["agents"])
    assert answers[targets[2].pid]["state"] == "gone"
    for target in targets[:2]:
        assert answers[target.pid]["reply"]["state"] == "SUCCEEDED"


@needs_redis
def test_an_agent_reconnects_after_its_node_restarts(three) -> None:
    a, b, targets = three
    before = by_pid(wait_for_agents(a, 3))
    b.kill()
    assert set(by_pid(wait_for_agents(a, 2))) == {t.pid for t in targets[:2]}
    b.start()  # the same ports: the agent's URL works again
    after = by_pid(wait_for_agents(a, 3))
    moved = targets[2].pid
    assert after[moved]["agent"] != before[moved]["agent"]  # a new connection, a new id
    assert after[moved]["node"] == node_id(b)
    done = fleet(a, "exec", "--app", "shop", "--json", "version")
    assert done.returncode == 0, done.stderr + done.stdout
    assert len(json.loads(done.stdout)["agents"]) == 3


@pytest.fixture
def memory_node() -> Iterator[MeshNode]:
    node = MeshNode()
    try:
        yield node
    finally:
        node.kill()


def test_one_in_memory_node_one_agent_by_id_and_stop(memory_node, make_target) -> None:
    url = memory_node.client_url("/livescope")
    shop = start_target(make_target, url, "environment")
    billing = start_target(make_target, url, "argument", app="billing")
    agents = by_pid(wait_for_agents(memory_node, 2))
    assert agents[billing.pid]["app"] == "billing" and agents[shop.pid]["app"] == "shop"

    done = fleet(memory_node, "exec", "--agent", agents[billing.pid]["agent"], "--json", *WATCH)
    assert done.returncode == 0, done.stderr + done.stdout
    (answer,) = json.loads(done.stdout)["agents"]
    assert answer["pid"] == billing.pid and answer["reply"]["state"] == "SUCCEEDED"

    host_pid = f"{agents[shop.pid]['host']}:{shop.pid}"
    big = fleet(memory_node, "exec", "--agent", host_pid, "--json", "ognl", "'x' * 400000")
    (answer,) = json.loads(big.stdout)["agents"]  # 400 KB: the reply comes in parts
    assert answer["reply"]["body"]["results"][0]["value"] == "x" * 400000

    done = fleet(memory_node, "exec", "--agent", host_pid, "stop")
    assert done.returncode == 0, done.stderr + done.stdout
    assert set(by_pid(wait_for_agents(memory_node, 1))) == {billing.pid}
    assert shop.proc.poll() is None  # the program goes on without its agent


def test_fleet_reconnects_to_a_restarted_node(memory_node, make_target, tmp_path) -> None:
    flag = tmp_path / "tick"
    target = start_target(
        make_target, memory_node.client_url("/livescope"), "argument", env={"TICK": str(flag)}
    )
    wait_for_agents(memory_node, 1)
    proc = start_fleet(memory_node, "exec", "--app", "shop", "--json", "--timeout", "60", *WATCH)
    try:
        assert "asked 1 agent(s)" in proc.stderr.readline()
        memory_node.kill()  # the fleet, and the agent, lose their node mid-command
        memory_node.start()
        flag.touch()  # the watched function is called only now
        out, err = proc.communicate(timeout=50)
    finally:
        stop_process(proc)
    assert proc.returncode == 0, err
    (answer,) = json.loads(out)["agents"]
    assert answer["pid"] == target.pid and answer["reply"]["state"] == "SUCCEEDED"
    assert [r["methodName"] for r in answer["reply"]["body"]["results"] if r["type"] == "watch"]


def test_attach_with_mesh(memory_node, make_target) -> None:
    plain = make_target(TARGET, agent=False)
    plain.wait_for_output("ready")
    url = memory_node.client_url("/livescope")
    attach = [sys.executable, "-m", "livescope", "attach", str(plain.pid), "--no-console"]
    attach += ["--port", str(free_port()), "--mesh", url, "--app", "attached"]
    done = subprocess.run(attach, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr + done.stdout
    (agent,) = wait_for_agents(memory_node, 1)
    assert agent["pid"] == plain.pid and agent["app"] == "attached"
    done = fleet(memory_node, "exec", "--app", "attached", *WATCH)
    assert done.returncode == 0, done.stderr + done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "livescope", "attach", str(plain.pid), "--mesh", "http://x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "not a WebSocket URL" in bad.stderr


def test_clear_errors(memory_node, make_target) -> None:
    start_target(make_target, memory_node.client_url("/livescope"), "argument")
    wait_for_agents(memory_node, 1)
    unknown = fleet(memory_node, "exec", "--app", "nope", "version")
    assert unknown.returncode == 2
    assert "no agent of app 'nope'" in unknown.stderr and "apps there: shop" in unknown.stderr
    no_command = fleet(memory_node, "exec", "--app", "shop")
    assert no_command.returncode == 2 and "needs a command" in no_command.stderr
    no_agent = fleet(memory_node, "exec", "--agent", "1234567890123456789", "version")
    assert no_agent.returncode == 2 and "no agent '1234567890123456789'" in no_agent.stderr

    base = [sys.executable, "-m", "livescope", "fleet"]
    bad_url = subprocess.run([*base, "--api", "ftp://x", "list"], capture_output=True, text=True)
    assert bad_url.returncode == 2 and "not a mesh API URL" in bad_url.stderr
    nobody = f"http://127.0.0.1:{free_port()}"
    gone = subprocess.run([*base, "--api", nobody, "list"], capture_output=True, text=True)
    assert gone.returncode == 3 and "no mesh node reachable" in gone.stderr
    helped = subprocess.run([*base, "-h"], capture_output=True, text=True)
    assert helped.returncode == 0 and "list" in helped.stdout and "exit codes" in helped.stdout
    bare = subprocess.run(base, capture_output=True, text=True)
    assert bare.returncode == 2 and "exec" in bare.stderr

    with pytest.raises(ValueError, match="not a WebSocket URL"):
        livescope.start(port=0, mesh="http://x")
    # the environment is not the program's own request: a bad value is reported, not raised
    ignored = make_target(TARGET, env={"LIVESCOPE_MESH": "http://x"})
    ignored.wait_for_output("ignoring LIVESCOPE_MESH: not a WebSocket URL")
    assert ignored.exec("version")["state"] == "SUCCEEDED"


def test_token_protected_node() -> None:
    node = MeshNode("--token", "s3cret")
    try:
        refused = fleet(node, "list")
        assert refused.returncode == 3 and "refused the token" in refused.stderr
        allowed = fleet(node, "--token", "s3cret", "list", "--json")
        assert allowed.returncode == 0 and json.loads(allowed.stdout) == {"agents": []}
    finally:
        node.kill()


def wait_registered(node: MeshNode, channel: str, count: int, timeout: float = 30.0) -> None:
    """Until a publish to ``channel`` reaches ``count`` connections: agents the node registered."""
    deadline = time.monotonic() + timeout
    while node.post("/v1/mesh/publish", {"c": channel, "d": "{}"})["r"]["s"] < count:
        assert time.monotonic() < deadline, f"{channel} never reached {count} agents"
        time.sleep(0.05)


def test_the_node_registers_agents_as_they_connect(memory_node, make_target) -> None:
    url = memory_node.client_url("/livescope")
    targets = [
        start_target(make_target, url, "argument"),
        start_target(make_target, url, "environment"),
    ]
    wait_registered(memory_node, "livescope.app.shop", 2)  # no back end has run yet
    agents = fleet_json(memory_node, "list")["agents"]  # one look, no waiting on hello repeats
    assert set(by_pid(agents)) == {t.pid for t in targets}
    backend = Api(memory_node.api_ws)
    try:
        assert backend.call("queue.pop", {"t": ["livescope"]})["E"] is None
        with pytest.raises(TimeoutError):  # no hellos wait in the agents' topic
            backend.event(timeout=1)
    finally:
        backend.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=needs_redis)])
def two_nodes(request) -> Iterator[tuple[MeshNode, MeshNode, RedisServer | None]]:
    """The same node twice in memory, or two nodes of a Redis grid."""
    server = RedisServer() if request.param == "redis" else None
    nodes: list[MeshNode] = []
    try:
        if server is None:
            nodes.append(MeshNode())
            nodes.append(nodes[0])
        else:
            nodes.extend(MeshNode("--redis", server.url, "--claim-idle", "1") for _ in range(2))
        yield nodes[0], nodes[1], server
    finally:
        for node in nodes:
            node.kill()
        if server is not None:
            server.kill()


def test_two_fleet_commands_at_once_both_get_every_answer(two_nodes, make_target, tmp_path):
    a, b, server = two_nodes
    flag = tmp_path / "tick"
    env = {"TICK": str(flag)}  # nothing ticks until both commands wait
    targets = [
        start_target(make_target, a.client_url("/livescope"), "argument", env=env),
        start_target(make_target, b.client_url("/livescope"), "environment", env=env),
    ]
    wait_for_agents(a, 2)
    procs = [
        start_fleet(node, "exec", "--app", "shop", "--json", "--timeout", "60", *WATCH)
        for node in (a, b)
    ]
    try:
        for proc in procs:
            assert "asked 2 agent(s)" in proc.stderr.readline()
        flag.touch()
        done = [proc.communicate(timeout=50) for proc in procs]
    finally:
        for proc in procs:
            stop_process(proc)
    for proc, (out, err) in zip(procs, done, strict=True):
        assert proc.returncode == 0, err
        answers = by_pid(json.loads(out)["agents"])
        assert set(answers) == {t.pid for t in targets}
        for answer in answers.values():
            assert answer["state"] == "answered" and answer["reply"]["state"] == "SUCCEEDED"
            results = answer["reply"]["body"]["results"]
            assert [r["methodName"] for r in results if r["type"] == "watch"] == ["tick"]
    if server is not None:  # each command's reply stream goes away by itself
        keys = redis.Redis.from_url(server.url).keys("mesh:q:livescope.reply.*")
        assert len(keys) >= 2
        client = redis.Redis.from_url(server.url)
        assert -1 not in [client.ttl(key) for key in keys]  # -1: a key that never expires


def test_an_agent_where_the_node_does_not_register_agents(make_target) -> None:
    """On a path that is not an agents' path (as on a node without the agent hook), the hello
    waits in the path's topic and comes again until a back end registers the agent; answers
    carry the reply topic their request named."""
    node = MeshNode("--agent-path", "/fleet")
    backend = Api(node.api_ws)
    try:
        here = start_target(make_target, node.client_url("/fleet"), "argument", app="billing")
        plain = start_target(make_target, node.client_url("/livescope"), "argument")
        wait_registered(node, "fleet.app.billing", 1)
        (agent,) = fleet_json(node, "--topic", "fleet", "list")["agents"]
        assert agent["pid"] == here.pid and agent["app"] == "billing"

        assert backend.call("queue.pop", {"t": ["livescope"]})["E"] is None
        hellos = []
        for _ in range(2):  # the first hello, then a repeat: nobody welcomed it
            event = backend.event(timeout=20)["p"]
            hellos.append((event["c"], json.loads(event["d"]["frame"]["data"])))
        (client, hello), (again, repeated) = hellos
        assert again == client and hello == repeated
        assert hello["kind"] == "hello" and hello["agent"]["pid"] == plain.pid

        info = hello["agent"]
        assert (
            backend.call("conn.call", {"c": client, "f": "set_context", "a": [info]})["E"] is None
        )
        channels = ["livescope", "livescope.app.shop"]
        assert (
            backend.call("conn.call", {"c": client, "f": "subscribe", "a": channels})["E"] is None
        )
        welcome = json.dumps({"livescope": 1, "kind": "welcome", "client": client})
        assert backend.call("mesh.send", {"c": client, "d": welcome})["E"] is None
        body = {"action": "exec", "command": "version"}
        request = {"livescope": 1, "kind": "request", "id": "r1", "reply": "mine", "body": body}
        assert backend.call("mesh.send", {"c": client, "d": json.dumps(request)})["E"] is None
        event = backend.event(timeout=20)["p"]
        reply = json.loads(event["d"]["frame"]["data"])
        assert event["t"] == "livescope" and event["c"] == client
        assert reply["kind"] == "reply" and reply["id"] == "r1" and reply["to"] == "mine"
        assert reply["body"]["state"] == "SUCCEEDED"
    finally:
        backend.close()
        node.kill()
