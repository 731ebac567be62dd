"""Reference §8 items 28-38: synchronous ``exec``, one-shot and in a session, over real HTTP."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest

from support.api_target import ApiSession, start_api_target
from support.targets import Target

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    t = start_api_target()
    yield t
    t.close()


def test_item_28_one_shot_exec_version(target: Target) -> None:
    reply = target.exec("version")
    assert reply["state"] == "SUCCEEDED"
    body = reply["body"]
    assert body["command"] == "version"
    assert isinstance(body["jobId"], int)
    assert body["jobStatus"] == "TERMINATED"
    assert body["timeExpired"] is False
    assert "timeout" not in body
    assert body["results"][0]["type"] == "version"
    assert body["results"][-1] == {"type": "status", "jobId": body["jobId"], "statusCode": 0}


def test_item_29_one_shot_session_is_gone_afterwards(target: Target) -> None:
    session_id = target.exec("version")["sessionId"]
    assert UUID4.match(session_id)
    reply = target.api({"action": "session_info", "sessionId": session_id})
    assert reply == {"state": "FAILED", "message": f"session not found: {session_id}"}


def test_item_30_exec_results_hold_no_input_status_or_command(target: Target) -> None:
    session = ApiSession(target)
    reply = session.call("exec", command="chatty 3")
    types = [item["type"] for item in reply["body"]["results"]]
    assert types == ["message", "message", "message", "status"]


def test_item_31_job_ids_increase_by_one(target: Target) -> None:
    session = ApiSession(target)
    ids = [target.exec("version")["body"]["jobId"]]
    ids.append(session.call("exec", command="version")["body"]["jobId"])
    ids.append(target.exec("version")["body"]["jobId"])
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]


def test_item_32_unknown_command_fails_and_consumes_a_job_id(target: Target) -> None:
    before = target.exec("version")["body"]["jobId"]
    reply = target.exec("nosuchcommand -x")
    assert reply["state"] == "FAILED"
    assert reply["message"].startswith("Exec command failed:")
    assert "nosuchcommand: command not found" in reply["message"]
    assert reply["body"] == {"command": "nosuchcommand -x"}
    assert target.exec("version")["body"]["jobId"] == before + 2


def test_item_32_blank_and_bad_lines_fail_to_create(target: Target) -> None:
    for line in ("", "   ", 'echo "unclosed'):
        reply = target.exec(line)
        assert reply["state"] == "FAILED", reply
        assert reply["message"].startswith("Exec command failed:")


def test_item_33_missing_argument_is_status_minus_10(target: Target) -> None:
    reply = target.exec("needs")
    assert reply["state"] == "SUCCEEDED"
    (status,) = reply["body"]["results"]
    assert status["type"] == "status"
    assert status["statusCode"] == -10
    assert status["message"] == "The argument 'class-pattern' is required"


def test_item_33_command_error_and_help(target: Target) -> None:
    results = target.results("boom")
    assert results[-1]["statusCode"] == 1 and results[-1]["message"] == "it broke"
    help_results = target.results("needs -h")
    assert help_results[0]["type"] == "help"
    assert help_results[-1]["statusCode"] == 0


def test_item_34_exec_timeout_interrupts(target: Target) -> None:
    started = time.monotonic()
    reply = target.exec("forever", execTimeout=1000)
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 2.0
    assert reply["state"] == "INTERRUPTED"
    assert reply["message"] == "The job is exceeded time limit, force interrupt"
    assert reply["body"]["timeExpired"] is True
    assert reply["body"]["timeout"] == 1000
    assert reply["body"]["jobStatus"] == "TERMINATED"
    assert reply["body"]["results"][-1]["type"] == "status"


def test_item_35_non_positive_timeout_means_30_s(target: Target) -> None:
    # A job that outlives 1 s but not 30 s: proves neither 0 nor -5 became an instant timeout.
    for value in (0, -5, None):
        fields = {} if value is None else {"execTimeout": value}
        reply = target.exec("chatty 2 -i 0.7", **fields)
        assert reply["state"] == "SUCCEEDED", reply
        assert reply["body"]["timeExpired"] is False


def test_item_36_exec_while_foreground_job_runs_is_refused(target: Target) -> None:
    session = ApiSession(target)
    assert session.async_exec("forever")["state"] == "SCHEDULED"
    reply = session.call("exec", command="version")
    assert reply == {
        "state": "REFUSED",
        "message": "Another job is running.",
        "sessionId": session.session_id,
        "body": {"command": "version"},
    }
    session.call("interrupt_job")


def test_item_36_concurrent_exec_on_one_session_is_refused(target: Target) -> None:
    session = ApiSession(target)
    thread = threading.Thread(
        target=session.call, args=("exec",), kwargs={"command": "chatty 2 -i 0.5"}
    )
    thread.start()
    time.sleep(0.3)
    reply = session.call("exec", command="version")
    thread.join()
    assert reply["state"] == "REFUSED"
    assert reply["message"] in ("Another command is executing.", "Another job is running.")


def test_item_37_session_exec_sends_only_input_status_to_consumers(target: Target) -> None:
    session = ApiSession(target)
    session.welcome()
    assert session.call("exec", command="chatty 3")["state"] == "SUCCEEDED"
    items = session.pull()
    assert [(i["type"], i.get("inputStatus")) for i in items] == [
        ("input_status", "ALLOW_INTERRUPT"),
        ("input_status", "ALLOW_INPUT"),
    ]


def test_item_38_exec_returns_at_most_500_items(target: Target) -> None:
    results = target.results("chatty 600")
    assert len(results) == 500
    assert all(item["type"] == "message" for item in results)


def test_session_history_records_each_command_line(target: Target) -> None:
    session = ApiSession(target)
    session.call("exec", command="needs a")
    session.call("exec", command="nope")
    reply = session.call("exec", command="history")
    assert reply["state"] == "SUCCEEDED", reply
    text = repr(reply["body"]["results"])
    assert "needs a" in text and "nope" in text


def test_item_33_exec_sc_without_pattern(target: Target) -> None:
    reply = target.exec("sc")
    assert reply["state"] == "SUCCEEDED"
    assert reply["body"]["results"] == [
        {
            "type": "status",
            "jobId": reply["body"]["jobId"],
            "statusCode": -10,
            "message": "The argument 'class-pattern' is required",
        }
    ]


def test_exec_background_job_leaves_the_session_free(target: Target) -> None:
    # `exec "C &"`: the request still returns C's results, but the job is a background job, so
    # while it runs the session has no foreground job and takes other commands.
    session = ApiSession(target)
    session.welcome()
    replies: dict = {}
    thread = threading.Thread(
        target=lambda: replies.update(exec=session.call("exec", command="chatty 3 -i 1 &"))
    )
    thread.start()
    items = session.pull_until(lambda i: i.get("inputStatus") == "ALLOW_INPUT")
    assert [i["inputStatus"] for i in items] == ["ALLOW_INTERRUPT", "ALLOW_INPUT"]
    assert session.call("interrupt_job")["message"] == "no foreground job is running"
    other = session.async_exec("needs x")
    assert other["state"] == "SCHEDULED", other
    assert thread.is_alive(), "the background exec ended before the other command ran"
    thread.join(10)
    reply = replies["exec"]
    assert reply["state"] == "SUCCEEDED" and reply["body"]["timeExpired"] is False
    assert [i.get("message") for i in reply["body"]["results"]] == ["m0", "m1", "m2", None]
    assert reply["body"]["results"][-1]["type"] == "status"


def test_one_shot_exec_background_job_ends_at_exec_timeout(target: Target) -> None:
    # Nobody could reach a one-shot background job after the request, so execTimeout ends it.
    reply = target.exec("forever &", execTimeout=500)
    assert reply["state"] == "INTERRUPTED"
    assert reply["body"]["jobStatus"] == "TERMINATED"
    assert [i["type"] for i in reply["body"]["results"]] == ["message", "status"]
