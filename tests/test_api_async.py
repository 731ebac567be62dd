"""Reference §8 items 39-43 and 54-56: async_exec, background jobs, interrupt_job, status items."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.api_target import ApiSession, is_status, start_api_target
from support.targets import Target


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    t = start_api_target()
    yield t
    t.close()


@pytest.fixture
def session(target: Target) -> Iterator[ApiSession]:
    s = ApiSession(target)
    s.welcome()
    yield s
    s.call("close_session")


def test_item_39_async_exec_is_scheduled(session: ApiSession) -> None:
    reply = session.async_exec("chatty 2")
    assert reply["state"] == "SCHEDULED"
    assert reply["sessionId"] == session.session_id
    body = reply["body"]
    assert body["jobStatus"] == "READY" and isinstance(body["jobId"], int)
    assert body["command"] == "chatty 2"


def test_item_40_pull_sequence_after_async_exec(session: ApiSession) -> None:
    job = session.async_exec("chatty 2")["body"]["jobId"]
    items = session.pull_until(lambda i: i.get("inputStatus") == "ALLOW_INPUT")
    assert items == [
        {"type": "command", "jobId": job, "command": "chatty 2", "state": "SCHEDULED"},
        {"type": "input_status", "jobId": 0, "inputStatus": "ALLOW_INTERRUPT"},
        {"type": "message", "jobId": job, "message": "m0"},
        {"type": "message", "jobId": job, "message": "m1"},
        {"type": "status", "jobId": job, "statusCode": 0},
        {"type": "input_status", "jobId": 0, "inputStatus": "ALLOW_INPUT"},
    ]


def test_item_41_second_async_exec_is_refused(session: ApiSession) -> None:
    assert session.async_exec("forever")["state"] == "SCHEDULED"
    reply = session.async_exec("version")
    assert reply["state"] == "REFUSED"
    assert reply["message"] == "Another job is running."
    assert reply["body"] == {"command": "version"}


def test_item_42_async_exec_of_unknown_command(session: ApiSession) -> None:
    reply = session.async_exec("nosuch")
    assert reply["state"] == "FAILED"
    assert reply["message"].startswith("Async exec command failed:")
    assert "nosuch: command not found" in reply["message"]
    (item,) = session.pull()
    assert item == {
        "type": "command",
        "jobId": 0,
        "command": "nosuch",
        "state": "FAILED",
        "message": reply["message"],
    }


def test_item_43_background_job_releases_the_foreground(session: ApiSession) -> None:
    background = session.async_exec("forever &")["body"]["jobId"]
    items = session.pull_until(lambda i: i.get("inputStatus") == "ALLOW_INPUT")
    assert not any(i["type"] == "status" for i in items)
    second = session.async_exec("chatty 1")
    assert second["state"] == "SCHEDULED"
    items = session.pull_until(is_status(second["body"]["jobId"]))
    assert not any(is_status(background)(i) for i in items)
    assert session.call("interrupt_job")["message"] == "no foreground job is running"


def test_item_54_interrupt_with_nothing_running(session: ApiSession) -> None:
    assert session.call("interrupt_job", jobId=3) == {
        "state": "FAILED",
        "message": "no foreground job is running",
    }


def test_item_55_interrupt_running_job(session: ApiSession) -> None:
    job = session.async_exec("forever")["body"]["jobId"]
    session.pull_until(lambda i: i.get("message") == "started")
    reply = session.call("interrupt_job")
    assert reply == {"state": "SUCCEEDED", "body": {"jobId": job, "jobStatus": "TERMINATED"}}
    items = session.pull_until(lambda i: i.get("inputStatus") == "ALLOW_INPUT")
    assert items == [
        {"type": "status", "jobId": job, "statusCode": 0},
        {"type": "input_status", "jobId": 0, "inputStatus": "ALLOW_INPUT"},
    ]


def test_item_56_every_job_ends_with_one_status(session: ApiSession, target: Target) -> None:
    for command in ("chatty 3", "needs", "boom", "needs -h"):
        job = session.async_exec(command)["body"]["jobId"]
        items = session.pull_until(lambda i: i.get("inputStatus") == "ALLOW_INPUT")
        mine = [i for i in items if i["jobId"] == job]
        statuses = [i for i in mine if i["type"] == "status"]
        assert len(statuses) == 1 and mine[-1] is statuses[0], (command, items)
    results = target.results("chatty 5")
    assert [i["type"] for i in results].count("status") == 1


def test_global_job_timeout_ends_jobs(target: Target) -> None:
    changed = target.results("options job-timeout 1s")
    try:
        assert changed[-1]["statusCode"] == 0, changed
        s = ApiSession(target)
        s.welcome()
        job = s.async_exec("forever")["body"]["jobId"]
        items = s.pull_until(is_status(job), limit=5)
        assert [i["statusCode"] for i in items if is_status(job)(i)] == [0]
    finally:
        target.results("options job-timeout 1d")


def test_item_55_interrupt_running_dashboard(session: ApiSession) -> None:
    job = session.async_exec("dashboard -i 200")["body"]["jobId"]
    session.pull_until(lambda i: i["type"] == "dashboard")
    reply = session.call("interrupt_job")
    assert reply == {"state": "SUCCEEDED", "body": {"jobId": job, "jobStatus": "TERMINATED"}}
    items = session.pull_until(lambda i: i.get("inputStatus") == "ALLOW_INPUT")
    assert [i for i in items if i["type"] == "status"] == [
        {"type": "status", "jobId": job, "statusCode": 0}
    ]


def test_session_flow_on_every_python(make_target, any_python: str) -> None:
    from support.api_target import TEST_COMMANDS

    target = make_target(TEST_COMMANDS, python=any_python)
    target.wait_for_output("test commands registered")
    s = ApiSession(target)
    assert [i["type"] for i in s.welcome()] == ["message", "welcome", "input_status"]
    job = s.async_exec("chatty 2")["body"]["jobId"]
    items = s.pull_until(lambda i: i.get("inputStatus") == "ALLOW_INPUT")
    assert [i["type"] for i in items if i["jobId"] == job] == [
        "command",
        "message",
        "message",
        "status",
    ]
    reply = target.exec("forever", execTimeout=300)
    assert reply["state"] == "INTERRUPTED" and reply["body"]["jobStatus"] == "TERMINATED"
    assert s.call("close_session") == {"state": "SUCCEEDED"}


HANDOFF_FULL = {
    "type": "message",
    "jobId": 0,
    "message": "result queue is full: 10, current job was interrupted.",
}


def test_handoff_queue_full_for_100_ms_interrupts_the_job(session: ApiSession) -> None:
    # `stall` holds the agent's loop (the distributor) for 0.6 s while it emits 30 messages:
    # 10 fit the hand-off queue, the 11th waits 100 ms in vain, the oldest is dropped for the
    # notice and the job is interrupted before it emits the rest.
    job = session.async_exec("stall 30")["body"]["jobId"]
    items = session.pull_until(lambda i: i.get("inputStatus") == "ALLOW_INPUT")
    assert items[:2] == [
        {"type": "command", "jobId": job, "command": "stall 30", "state": "SCHEDULED"},
        {"type": "input_status", "jobId": 0, "inputStatus": "ALLOW_INTERRUPT"},
    ]
    assert items[2:] == [
        *({"type": "message", "jobId": job, "message": f"m{n}"} for n in range(1, 10)),
        HANDOFF_FULL,
        {"type": "status", "jobId": job, "statusCode": 0},
        {"type": "input_status", "jobId": 0, "inputStatus": "ALLOW_INPUT"},
    ]


def test_handoff_queue_full_in_exec(target: Target) -> None:
    reply = target.exec("stall 30")
    assert reply["state"] == "SUCCEEDED"
    job = reply["body"]["jobId"]
    assert reply["body"]["results"] == [
        *({"type": "message", "jobId": job, "message": f"m{n}"} for n in range(1, 10)),
        HANDOFF_FULL,
        {"type": "status", "jobId": job, "statusCode": 0},
    ]


def test_handoff_queue_holds_a_short_stall(target: Target) -> None:
    # Ten results fit while the loop is busy: nothing is lost and the job is not interrupted.
    results = target.results("stall 10")
    assert [i.get("message") for i in results[:-1]] == [f"m{n}" for n in range(10)]
    assert results[-1]["statusCode"] == 0


def test_handoff_back_pressure_loses_nothing(target: Target) -> None:
    # A job emitting as fast as it can waits for the loop instead of growing a queue.
    results = target.results("chatty 400")
    assert [i["message"] for i in results[:-1]] == [f"m{n}" for n in range(400)]
