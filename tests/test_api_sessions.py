"""Reference §8 items 19-27 and 44-53: sessions, consumers, long polls and timeouts."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator

import pytest

from support.api_target import ApiSession, is_status, start_api_target
from support.targets import Target

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$")


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    t = start_api_target()
    yield t
    t.close()


@pytest.fixture(scope="module")
def fast_reaper() -> Iterator[Target]:
    """A target whose 60 s reaper, 5 min consumer and 3 h session timeouts are shortened.

    The session timeout is the ``session-timeout`` option; the variable sets its start value.
    """
    env = {
        "LIVESCOPE_REAPER_INTERVAL": "0.2",
        "LIVESCOPE_CONSUMER_TIMEOUT": "0.6",
        "LIVESCOPE_SESSION_TIMEOUT": "1.0",
    }
    t = start_api_target(env=env)
    yield t
    t.close()


def test_item_19_init_session_ids(target: Target) -> None:
    reply = target.api({"action": "init_session"})
    assert reply["state"] == "SUCCEEDED"
    assert UUID4.match(reply["sessionId"])
    assert re.match(r"^[0-9a-f]{32}_1$", reply["consumerId"])


def test_item_20_first_pull_is_the_welcome(target: Target) -> None:
    session = ApiSession(target)
    items = session.pull()
    assert [i["type"] for i in items] == ["message", "welcome", "input_status"]
    assert all(i["jobId"] == 0 for i in items)
    assert items[0]["message"] == "Welcome to arthas!"
    welcome = items[1]
    assert welcome["pid"] == str(target.pid)
    assert welcome["version"] and TIME.match(welcome["time"])
    assert welcome["mainClass"].endswith("target_main.py")
    assert welcome["wiki"] == "https://arthas.aliyun.com/doc"
    assert welcome["tutorials"] == "https://arthas.aliyun.com/doc/arthas-tutorials.html"
    assert items[2]["inputStatus"] == "ALLOW_INPUT"


def test_item_21_join_session_numbers_consumers(target: Target) -> None:
    session = ApiSession(target)
    prefix = session.consumer_id.split("_")[0]
    for n in (2, 3):
        reply = session.call("join_session")
        assert reply["state"] == "SUCCEEDED"
        assert reply["sessionId"] == session.session_id
        assert reply["consumerId"] == f"{prefix}_{n}"


def test_item_22_join_replays_history(target: Target) -> None:
    session = ApiSession(target)
    job = session.async_exec("chatty 30")["body"]["jobId"]
    session.pull_until(is_status(job))
    joined = session.call("join_session")["consumerId"]
    items = session.pull_until(lambda i: i.get("inputStatus") == "ALLOW_INPUT", joined)
    assert items[0] == {"type": "input_status", "jobId": 0, "inputStatus": "DISABLED"}
    replay = items[1:-1]
    assert [i["type"] for i in replay[:3]] == ["message", "welcome", "command"]
    assert len(replay) == 2 + 1 + 30 + 1
    assert all(i["type"] != "input_status" for i in replay)
    assert replay[-1]["type"] == "status"
    assert items[-1]["inputStatus"] == "ALLOW_INPUT"


def test_item_22_join_replays_at_most_50(target: Target) -> None:
    session = ApiSession(target)
    job = session.async_exec("chatty 80")["body"]["jobId"]
    session.pull_until(is_status(job))
    joined = session.call("join_session")["consumerId"]
    items = session.pull_until(lambda i: i.get("inputStatus") == "ALLOW_INPUT", joined)
    # the joined consumer's queue keeps the newest 50 items of the replay and what followed
    assert len(items) == 50
    assert [i["message"] for i in items[:-2]] == [f"m{n}" for n in range(32, 80)]
    assert items[-2]["type"] == "status" and items[-1]["inputStatus"] == "ALLOW_INPUT"


def test_item_23_session_id_required(target: Target) -> None:
    for action in ("join_session", "pull_results", "async_exec", "interrupt_job", "close_session"):
        reply = target.api({"action": action})
        assert reply == {"state": "FAILED", "message": "'sessionId' is required"}, action


def test_item_24_unknown_session(target: Target) -> None:
    actions = ("join_session", "pull_results", "async_exec", "exec", "session_info")
    for action in (*actions, "interrupt_job", "close_session"):
        reply = target.api({"action": action, "sessionId": "no-such", "consumerId": "x_1"})
        assert reply == {"state": "FAILED", "message": "session not found: no-such"}


def test_item_25_close_session(target: Target) -> None:
    session = ApiSession(target)
    assert session.call("close_session", requestId="c") == {"state": "SUCCEEDED", "requestId": "c"}
    reply = session.call("session_info")
    assert reply["message"] == f"session not found: {session.session_id}"


def test_item_26_close_interrupts_job_and_ends_long_poll(target: Target) -> None:
    session = ApiSession(target)
    session.welcome()
    job = session.async_exec("forever")["body"]["jobId"]
    session.pull_until(lambda i: i.get("message") == "started")
    polled: dict = {}

    def poll() -> None:
        start = time.monotonic()
        polled["reply"] = session.call("pull_results", consumerId=session.consumer_id)
        polled["elapsed"] = time.monotonic() - start

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.3)
    assert session.call("close_session") == {"state": "SUCCEEDED"}
    thread.join(5)
    assert polled["elapsed"] < 1.0
    # the job's wait returned: it was interrupted, not left running in a closed session
    target.wait_for_output(f"forever {job} ended", timeout=5)


def test_item_27_session_info(target: Target) -> None:
    session = ApiSession(target)
    reply = session.call("session_info")
    assert reply["state"] == "SUCCEEDED" and reply["sessionId"] == session.session_id
    body = reply["body"]
    assert body["pid"] == target.pid
    assert isinstance(body["createTime"], int) and body["lastAccessTime"] >= body["createTime"]
    assert abs(body["createTime"] / 1000 - time.time()) < 60


def test_item_44_consumer_id_required_and_checked(target: Target) -> None:
    session = ApiSession(target)
    assert session.call("pull_results") == {
        "state": "FAILED",
        "message": "'consumerId' is required",
    }
    reply = session.call("pull_results", consumerId="abc_9")
    assert reply == {"state": "FAILED", "message": "consumer not found: abc_9"}


def test_item_45_empty_pull_returns_after_2_s(target: Target) -> None:
    session = ApiSession(target)
    session.welcome()
    start = time.monotonic()
    reply = session.call("pull_results", consumerId=session.consumer_id)
    elapsed = time.monotonic() - start
    assert reply["body"] == {"results": []}
    assert set(reply) == {"body", "consumerId", "sessionId", "state"}
    assert 1.8 <= elapsed <= 2.3


def test_item_46_pull_returns_soon_after_a_burst(target: Target) -> None:
    session = ApiSession(target)
    session.welcome()
    got: dict = {}

    def poll() -> None:
        got["items"] = session.pull()
        got["at"] = time.monotonic()

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.5)
    sent = time.monotonic()
    session.async_exec("chatty 3")
    thread.join(5)
    assert got["items"], got
    assert got["at"] - sent < 0.6


def test_item_46_a_burst_comes_back_together(target: Target) -> None:
    # A pull ends at a short quiet gap, not at the first result: a burst is not one reply each.
    session = ApiSession(target)
    session.welcome()
    job = session.async_exec("chatty 15")["body"]["jobId"]
    replies: list[list[dict]] = []
    while not any(is_status(job)(i) for i in (replies[-1] if replies else [])):
        replies.append(session.pull())
    carrying = [r for r in replies if any(i["type"] == "message" for i in r)]
    assert sum(len(r) for r in carrying) >= 15
    assert len(carrying) <= 3, [len(r) for r in replies]


def test_item_47_pull_returns_at_most_20_items(target: Target) -> None:
    session = ApiSession(target)
    session.welcome()
    job = session.async_exec("chatty 45")["body"]["jobId"]
    time.sleep(0.5)
    sizes = []
    items: list = []
    while not any(is_status(job)(i) for i in items):
        batch = session.pull()
        sizes.append(len(batch))
        items.extend(batch)
    assert max(sizes) == 20
    assert [i["message"] for i in items if i["type"] == "message"] == [f"m{n}" for n in range(45)]


def test_item_48_each_consumer_gets_every_result_once(target: Target) -> None:
    session = ApiSession(target)
    other = session.call("join_session")["consumerId"]
    session.welcome()
    session.pull_until(lambda i: i.get("inputStatus") == "ALLOW_INPUT", other)
    job = session.async_exec("chatty 10 -i 0.02")["body"]["jobId"]
    mine = session.pull_until(is_status(job))
    theirs = session.pull_until(is_status(job), other)
    assert mine == theirs
    assert len([i for i in mine if i["type"] == "message"]) == 10


def test_item_49_consumer_keeps_newest_50(target: Target) -> None:
    session = ApiSession(target)
    session.welcome()
    job = session.async_exec("chatty 80 &")["body"]["jobId"]
    time.sleep(0.8)  # the consumer was accessed < 1 s ago: still healthy, never killed
    items = session.pull_until(is_status(job))
    assert len(items) == 50  # the newest 50: the last 49 messages and the status
    assert [i["message"] for i in items[:-1]] == [f"m{n}" for n in range(31, 80)]
    assert items[-1]["type"] == "status"


def test_item_50_unhealthy_consumers_interrupt_the_job(target: Target) -> None:
    session = ApiSession(target)
    session.welcome()
    job = session.async_exec("chatty 100000 -i 0.002")["body"]["jobId"]
    time.sleep(2.0)  # nobody pulls: the queue fills and the last access grows older than 1 s
    items = session.pull_until(is_status(job))
    notices = [i for i in items if i["type"] == "message" and "unhealthy" in i["message"]]
    assert notices and notices[0]["message"] == (
        "all consumers are unhealthy, current job was interrupted."
    )
    assert session.call("interrupt_job")["message"] == "no foreground job is running"


def test_item_51_concurrent_pull_gets_empty_after_half_a_second(target: Target) -> None:
    session = ApiSession(target)
    session.welcome()
    first = threading.Thread(target=session.pull)
    first.start()
    time.sleep(0.2)
    start = time.monotonic()
    assert session.pull() == []
    assert 0.4 <= time.monotonic() - start <= 1.0
    first.join()


def test_item_52_idle_consumer_is_removed(fast_reaper: Target) -> None:
    session = ApiSession(fast_reaper)
    session.welcome()
    for _ in range(6):  # keep the session (not the consumer) alive
        time.sleep(0.25)
        assert session.call("session_info")["state"] == "SUCCEEDED"
    reply = session.call("pull_results", consumerId=session.consumer_id)
    assert reply == {"state": "FAILED", "message": f"consumer not found: {session.consumer_id}"}


def test_item_53_idle_session_removed_unless_foreground_job(fast_reaper: Target) -> None:
    idle = ApiSession(fast_reaper)
    busy = ApiSession(fast_reaper)
    assert busy.async_exec("forever")["state"] == "SCHEDULED"
    time.sleep(1.8)
    assert idle.call("session_info")["message"] == f"session not found: {idle.session_id}"
    assert busy.call("session_info")["state"] == "SUCCEEDED"
    busy.call("close_session")


def test_reaper_intervals_are_configurable() -> None:
    from livescope.agent.sessions import SessionManager

    class Agent:
        options: dict = {}

    manager = SessionManager(Agent(), reaper_interval=1.5)
    assert manager.reaper_interval == 1.5
    assert manager.consumer_timeout == float(os.environ.get("LIVESCOPE_CONSUMER_TIMEOUT", 300))


UNHEALTHY = "all consumers are unhealthy, current job was interrupted."


def drop_consumers(session: ApiSession) -> None:
    """Use the session but not its consumer until the reaper has removed the consumer."""
    for _ in range(6):  # 1.5 s: the 0.6 s consumer timeout plus the 0.2 s reaper, with room
        time.sleep(0.25)
        assert session.call("session_info")["state"] == "SUCCEEDED"
    reply = session.call("pull_results", consumerId=session.consumer_id)
    assert reply["message"] == f"consumer not found: {session.consumer_id}"


def wait_for_foreground_to_end(session: ApiSession, limit: float = 10.0) -> None:
    """A session exec is refused while a foreground job runs, and accepted once it ended."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        reply = session.call("exec", command="needs x")
        if reply["state"] == "SUCCEEDED":
            return
        assert reply["message"] == "Another job is running.", reply
        time.sleep(0.05)
    raise AssertionError(f"the foreground job still runs after {limit}s")


def test_item_50_without_consumers_a_producer_is_stopped(fast_reaper: Target) -> None:
    # Every consumer timed out: nobody can read the session, so once its results overflow the
    # history that a later join_session would replay, the job producing them is interrupted.
    session = ApiSession(fast_reaper)
    session.welcome()
    drop_consumers(session)
    job = session.async_exec("chatty 100000 -i 0.002")["body"]["jobId"]
    wait_for_foreground_to_end(session)
    joined = session.call("join_session")["consumerId"]
    items = session.pull_until(is_status(job), joined)
    assert {"type": "message", "jobId": 0, "message": UNHEALTHY} in items
    assert len([i for i in items if i["type"] == "message"]) <= 52


def test_item_50_without_consumers_a_background_producer_is_stopped(fast_reaper: Target) -> None:
    session = ApiSession(fast_reaper)
    session.welcome()
    drop_consumers(session)
    job = session.async_exec("chatty 100000 -i 0.002 &")["body"]["jobId"]
    # 500 results' worth: the switch acts after 51 (no signal to wait for). The session is
    # used meanwhile: its 1 s timeout would remove it, since a background job does not count.
    for _ in range(4):
        time.sleep(0.25)
        assert session.call("session_info")["state"] == "SUCCEEDED"
    joined = session.call("join_session")["consumerId"]
    items = session.pull_until(is_status(job), joined)
    assert {"type": "message", "jobId": 0, "message": UNHEALTHY} in items


def test_without_consumers_results_wait_in_the_history(fast_reaper: Target) -> None:
    session = ApiSession(fast_reaper)
    session.welcome()
    drop_consumers(session)
    job = session.async_exec("chatty 40")["body"]["jobId"]
    wait_for_foreground_to_end(session)
    joined = session.call("join_session")["consumerId"]
    items = session.pull_until(is_status(job), joined)
    assert [i["message"] for i in items if i["jobId"] == job and i["type"] == "message"] == [
        f"m{n}" for n in range(40)
    ]
    assert UNHEALTHY not in [i.get("message") for i in items]


def session_timeout_option(target: Target) -> dict:
    (listed,) = target.results("options session-timeout")[0]["options"]
    return listed


def test_session_timeout_is_an_option(target: Target) -> None:
    listed = session_timeout_option(target)
    assert listed["value"] == "10800" and listed["type"] == "int"
    refused = target.results("options session-timeout 0")[-1]
    assert refused["statusCode"] != 0
    assert refused["message"].startswith("Cannot cast option value: 0 to type: int")
    assert session_timeout_option(target)["value"] == "10800"


def test_changing_session_timeout_changes_the_reaper(fast_reaper: Target) -> None:
    assert session_timeout_option(fast_reaper)["value"] == "1"  # LIVESCOPE_SESSION_TIMEOUT
    changed = fast_reaper.results("options session-timeout 3600")[0]["changeResult"]
    assert changed == {"name": "session-timeout", "beforeValue": 1, "afterValue": 3600}
    try:
        kept = ApiSession(fast_reaper)
        time.sleep(1.8)  # idle past the old timeout, with the 0.2 s reaper running meanwhile
        assert kept.call("session_info")["state"] == "SUCCEEDED"
    finally:
        fast_reaper.results("options session-timeout 1")
    time.sleep(1.8)
    assert kept.call("session_info")["message"] == f"session not found: {kept.session_id}"


MAIN_CLASS_PROGRAM = """
import os, sys, time, livescope
livescope.start(port=int(os.environ["LIVESCOPE_TEST_PORT"]))
print("ready", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize(
    ("argv", "main_class"),
    [(["-c", MAIN_CLASS_PROGRAM], "-c"), (["-m", "tpkg"], "tpkg")],
    ids=["python-c", "python-m-package"],
)
def test_item_20_welcome_main_class(make_target, argv: list[str], main_class: str) -> None:
    # The target script replaces itself (same pid) with `python -c CODE` or `python -m tpkg`.
    launcher = f"""
import os, sys
from pathlib import Path
Path("tpkg").mkdir()
Path("tpkg/__init__.py").write_text("")
Path("tpkg/__main__.py").write_text({MAIN_CLASS_PROGRAM!r})
os.execv(sys.executable, [sys.executable, *{argv!r}])
"""
    target = make_target(launcher, agent=False)
    target.wait_for_output("ready")
    session = ApiSession(target)
    welcome = next(i for i in session.welcome() if i["type"] == "welcome")
    assert welcome["mainClass"] == main_class
    assert welcome["pid"] == str(target.pid)
