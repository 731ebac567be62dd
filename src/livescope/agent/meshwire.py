"""The messages agents and fleet tools exchange through a mesh (the exchange is described in
:mod:`livescope.agent.meshlink`). Standard library only: both sides import it.

Every message is one JSON object in a WebSocket text message, marked ``"livescope": 1``, with
``"kind"`` saying what it is. A reply too big for one mesh message travels in parts.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

PROTOCOL = 1
DEFAULT_TOPIC = "livescope"
# Parts are ASCII JSON text (ensure_ascii), so characters are bytes; escaping the slice as a
# JSON string at most doubles it, which keeps every part far below a node's 1 MiB default.
PART_SIZE = 128 * 1024
MAX_REPLY = 16 * 1024 * 1024

HELLO = "hello"
WELCOME = "welcome"
DISCOVER = "discover"
REQUEST = "request"
REPLY = "reply"
PROBE = "probe"  # is the connection still there? (a failing mesh.send says no); ignored


def encode(kind: str, **fields: Any) -> str:
    return json.dumps(
        {"livescope": PROTOCOL, "kind": kind, **fields}, separators=(",", ":"), ensure_ascii=True
    )


def decode(text: str) -> dict[str, Any] | None:
    """The message, or None for anything that is not one of ours (it is ignored, not an error)."""
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("livescope") != PROTOCOL:
        return None
    if not isinstance(message.get("kind"), str):
        return None
    return message


def app_channel(topic: str, app: str) -> str:
    """The channel every agent of ``app`` is subscribed to (``topic`` is the agents' path)."""
    return f"{topic}.app.{app}"


def reply_prefix(topic: str) -> str:
    """Reply topics of the agents on ``topic`` start with this (``livescope.reply.``)."""
    return f"{topic}.reply."


def is_reply_topic(name: str, topic: str) -> bool:
    """Whether ``name`` is one of the reply topics of the agents on ``topic``."""
    return name.startswith(reply_prefix(topic)) and len(name) > len(reply_prefix(topic))


def new_reply_topic(topic: str) -> str:
    """A reply topic of one back-end command: nobody else pops it, so nobody takes its replies."""
    return reply_prefix(topic) + uuid.uuid4().hex


def named_reply_topic(message: dict[str, Any]) -> str | None:
    """The reply topic a discover or request names (``"reply"``), if it names one."""
    topic = message.get("reply")
    return topic if isinstance(topic, str) and topic else None


def body_text(body: dict[str, Any]) -> str:
    """An API reply as compact ASCII JSON (what :func:`reply_messages` carries)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True, default=str)


def reply_messages(
    request_id: str, client: str | None, text: str, to: str | None = None
) -> list[str]:
    """The reply to ``request_id`` (``text`` from :func:`body_text`) as one message, or as
    parts when it is large; ``to`` is the reply topic the request named, if it named one."""
    if len(text) > MAX_REPLY:
        failed = {
            "state": "FAILED",
            "message": f"the reply ({len(text)} bytes) is larger than the mesh carries "
            f"({MAX_REPLY} bytes); narrow the command (-n, -x, a condition)",
        }
        text = body_text(failed)
    address: dict[str, Any] = {"id": request_id, "client": client}
    if to is not None:
        address["to"] = to
    head = encode(REPLY, **address)[:-1]  # the object, still open
    if len(text) <= PART_SIZE:
        return [f'{head},"body":{text}}}']
    slices = [text[i : i + PART_SIZE] for i in range(0, len(text), PART_SIZE)]
    return [
        encode(REPLY, **address, part=[index, len(slices)], data=piece)
        for index, piece in enumerate(slices)
    ]


class PartAssembler:
    """Puts a reply sent in parts back together (duplicates from a redelivery are harmless)."""

    def __init__(self) -> None:
        self._parts: dict[str, dict[int, str]] = {}

    def feed(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """The reply body once complete (at once for a whole reply), else None."""
        if "part" not in message:
            body = message.get("body")
            return body if isinstance(body, dict) else None
        try:
            index, count = (int(n) for n in message["part"])
            piece = str(message["data"])
        except (TypeError, ValueError, KeyError):
            return None
        parts = self._parts.setdefault(str(message.get("id")), {})
        parts[index] = piece
        if len(parts) < count:
            return None
        del self._parts[str(message.get("id"))]
        try:
            body = json.loads("".join(parts[i] for i in range(count)))
        except (KeyError, ValueError):
            return None
        return body if isinstance(body, dict) else None
