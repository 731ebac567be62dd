"""Reference §8 items 9-18: the request envelope, against a real agent over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from support.api_target import ApiSession, start_api_target
from support.targets import Target


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    t = start_api_target()
    yield t
    t.close()


def test_item_09_empty_body_fails_without_request_id(target: Target) -> None:
    assert target.api(b"") == {
        "state": "FAILED",
        "message": "Process request error: parse request failed: request body is empty",
    }


def test_item_10_invalid_json_fails_with_parse_prefix(target: Target) -> None:
    for body in (b'{"action":', b"[1, 2]", b'{"action": {"x": 1}}', b'{"execTimeout": "abc"}'):
        reply = target.api(body)
        assert reply["state"] == "FAILED"
        assert reply["message"].startswith("Process request error: parse request failed: ")


def test_item_11_missing_action(target: Target) -> None:
    assert target.api({}) == {"state": "FAILED", "message": "'action' is required"}
    assert target.api({"action": "  "})["message"] == "'action' is required"


def test_item_12_unknown_action(target: Target) -> None:
    assert target.api({"action": "foo"}) == {"state": "FAILED", "message": "unknown action: foo"}


def test_item_13_action_is_case_insensitive_after_trim(target: Target) -> None:
    for action in (" EXEC ", "Exec"):
        reply = target.api({"action": action, "command": "needs x"})
        assert reply["state"] == "SUCCEEDED", reply
        assert reply["body"]["results"][0]["message"] == "x"


def test_item_14_request_id_echoed_everywhere(target: Target) -> None:
    for payload in (
        {"action": "init_session"},
        {"action": "foo"},
        {},
        {"action": "exec", "command": "nope"},
        {"action": "pull_results", "sessionId": "missing"},
    ):
        assert target.api({**payload, "requestId": "req-42"})["requestId"] == "req-42"
    session = ApiSession(target)
    session.async_exec("forever")
    refused = session.call("exec", command="version", requestId="req-43")
    assert refused["state"] == "REFUSED" and refused["requestId"] == "req-43"
    session.call("interrupt_job")


@pytest.mark.parametrize("field", ["command", "sessionId", "consumerId", "requestId", "userId"])
@pytest.mark.parametrize("value", [["version"], {"a": 1}, True, None], ids=repr)
def test_wrong_field_types_fail_cleanly(target: Target, field: str, value: object) -> None:
    """A list, object or boolean where a string belongs is a parse failure naming the field;
    null is the field left out."""
    reply = target.api({"action": "exec", "command": "version", field: value})
    if value is None:
        assert reply["state"] in ("SUCCEEDED", "FAILED") and "parse request" not in str(reply)
        return
    assert reply["state"] == "FAILED", reply
    assert reply["message"].startswith("Process request error: parse request failed: ")
    assert f"'{field}'" in reply["message"]


def test_item_15_null_fields_omitted(target: Target) -> None:
    reply = target.api({"action": "init_session", "requestId": "r1"})
    assert set(reply) == {"consumerId", "sessionId", "state", "requestId"}
    assert set(target.api({"action": "init_session"})) == {"consumerId", "sessionId", "state"}


def test_item_16_blank_ids_count_as_absent(target: Target) -> None:
    reply = target.api({"action": "exec", "command": "needs y", "sessionId": ""})
    assert reply["state"] == "SUCCEEDED"
    session = ApiSession(target)
    reply = session.call("pull_results", consumerId="")
    assert reply == {"state": "FAILED", "message": "'consumerId' is required"}
    reply = target.api({"action": "join_session", "sessionId": "   "})
    assert reply == {"state": "FAILED", "message": "'sessionId' is required"}


def test_item_17_exec_timeout_accepts_number_or_numeric_string(target: Target) -> None:
    for value in (500, "500", 500.0):
        reply = target.api({"action": "exec", "command": "forever", "execTimeout": value})
        assert reply["state"] == "INTERRUPTED", reply
        assert reply["body"]["timeout"] == 500


def test_item_18_unknown_fields_ignored(target: Target) -> None:
    reply = target.api(
        {"action": "exec", "command": "needs z", "jobId": 7, "operator": {"a": 1}, "extra": None}
    )
    assert reply["state"] == "SUCCEEDED"


def test_unexpected_exception_in_an_action_is_failed(target: Target) -> None:
    # Reference §4.9: a result the action cannot write raises inside exec / pull_results.
    reply = target.exec("unwritable", requestId="r7")
    assert reply == {
        "state": "FAILED",
        "message": "process http api request failed: this model cannot be written",
        "requestId": "r7",
    }
    session = ApiSession(target)
    session.welcome()
    assert session.async_exec("unwritable")["state"] == "SCHEDULED"
    reply = session.call("pull_results", consumerId=session.consumer_id)
    assert reply["state"] == "FAILED"
    assert reply["message"] == "process http api request failed: this model cannot be written"
    assert target.exec("needs ok")["state"] == "SUCCEEDED"  # the agent carries on


def test_unexpected_crash_in_the_handler_is_http_500(target: Target) -> None:
    # Reference §1: a reply that cannot be encoded crashes the handler itself.
    response = httpx.post(
        target.url + "/api", content=b'{"action":"exec","command":"unencodable"}', timeout=30
    )
    assert response.status_code == 500
    assert response.text == "Server error"
    assert response.headers["connection"] == "close"
    assert target.exec("needs ok")["state"] == "SUCCEEDED"


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"action":"exec","command":"version","execTimeout":NaN}',
        b'{"action":"exec","command":"version","execTimeout":1e999}',
        b'{"action":"exec","command":"version","execTimeout":"-Infinity"}',
    ],
    ids=["deeply-nested", "nan-timeout", "infinite-timeout", "infinite-string-timeout"],
)
def test_odd_json_is_a_parse_failure(target: Target, body: bytes) -> None:
    reply = target.api(body)
    assert reply["state"] == "FAILED"
    assert reply["message"].startswith("Process request error: parse request failed: ")


def test_huge_exec_timeout_is_just_long(target: Target) -> None:
    reply = target.api({"action": "exec", "command": "needs x", "execTimeout": 10**30})
    assert reply["state"] == "SUCCEEDED" and reply["body"]["timeExpired"] is False
