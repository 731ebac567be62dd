"""Wire shapes and error codes of the mesh back-end API (spec/004).

Every reply is ``{"E": null, "r": {...}}`` or ``{"E": {"c": code, "m": msg}}``, with ``"i"``
echoed on the WebSocket API; events are ``{"e": name, "p": {...}, "id": null}``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

INVALID_ARGUMENT = 101
CONSUME_FAILED = 201
REPEATED_CONSUMPTION = 202
UNPOP_FAILED = 203
CALL_FAILED = 301
SEND_FAILED = 401

NO_ID = object()  # HTTP replies carry no "i"


class MeshError(Exception):
    """A failure with its spec/004 error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def ok(result: dict[str, Any], request_id: Any = NO_ID) -> dict[str, Any]:
    reply: dict[str, Any] = {"E": None, "r": result}
    if request_id is not NO_ID:
        reply["i"] = request_id
    return reply


def error(code: int, message: str, request_id: Any = NO_ID) -> dict[str, Any]:
    reply: dict[str, Any] = {"E": {"c": code, "m": message}}
    if request_id is not NO_ID:
        reply["i"] = request_id
    return reply


def event(name: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"e": name, "p": params, "id": None}


def client_id(value: Any) -> int:
    """Client ids arrive as JSON strings or integers."""
    if isinstance(value, bool):
        raise MeshError(INVALID_ARGUMENT, "c must be a client id")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise MeshError(INVALID_ARGUMENT, "c must be a client id")


def channel(value: Any, name: str = "c") -> str:
    if not isinstance(value, str) or not value:
        raise MeshError(INVALID_ARGUMENT, f"{name} must be a non-empty string")
    return value


def payload(params: Any) -> str | bytes:
    """The message to deliver: ``d`` as text, or base64-decoded bytes when ``t`` is binary."""
    if not isinstance(params, dict):
        raise MeshError(INVALID_ARGUMENT, "parameters must be an object")
    if "d" not in params:
        raise MeshError(INVALID_ARGUMENT, "d is required")
    kind = params.get("t", "text")
    data = params["d"]
    if kind == "text":
        if not isinstance(data, str):
            raise MeshError(INVALID_ARGUMENT, "d must be a string")
        return data
    if kind == "binary":
        if not isinstance(data, str):
            raise MeshError(INVALID_ARGUMENT, "d must be base64 text")
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise MeshError(INVALID_ARGUMENT, "d is not valid base64") from None
    raise MeshError(INVALID_ARGUMENT, "t must be text or binary")


def call_args(function: Any, args: Any) -> tuple[str, list[Any]]:
    """Validate a ``conn.call`` function name and its argument list."""
    if not isinstance(args, list):
        raise MeshError(INVALID_ARGUMENT, "a must be an array")
    if function == "set_context_value":
        if len(args) != 2 or not isinstance(args[0], str):
            raise MeshError(INVALID_ARGUMENT, "set_context_value takes [key, value]")
    elif function == "set_context":
        if len(args) != 1 or not isinstance(args[0], dict):
            raise MeshError(INVALID_ARGUMENT, "set_context takes [{...}]")
    elif function in ("subscribe", "unsubscribe"):
        if not args or not all(isinstance(a, str) and a for a in args):
            raise MeshError(INVALID_ARGUMENT, f"{function} takes [channel, ...]")
    else:
        raise MeshError(INVALID_ARGUMENT, f"unknown function {function!r}")
    return function, args


def topics(params: Any) -> list[str]:
    """``queue.pop`` parameters: ``{"t": [topics]}`` or, from older clients, a bare list."""
    value = params.get("t") if isinstance(params, dict) else params
    if not isinstance(value, list) or not value:
        raise MeshError(INVALID_ARGUMENT, "t must be a non-empty array of topics")
    if not all(isinstance(t, str) and t for t in value):
        raise MeshError(INVALID_ARGUMENT, "topics must be non-empty strings")
    return list(dict.fromkeys(value))
