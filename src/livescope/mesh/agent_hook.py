"""The node's own handling of livescope agents: the default ``on_message`` on agents' paths.

An agent (:mod:`livescope.agent.meshlink`) connects to an agents' path (``/livescope`` unless
``livescope mesh --agent-path`` says otherwise) and says hello. The node registers it at once,
with no back end running: ``set_context`` with the hello's description, ``subscribe`` to the
path's channel and the app's channel, then a welcome. So agents are found (by a discover
published to those channels) from the moment they connect, and hellos never pile up in a queue.

Everything else an agent sends goes to a queue topic as under spec/004's default hook
(``{"frame": frame}``): an answer (a reply, or a hello answering a discover) to the reply topic
it names with ``"to"`` when that is one of the path's reply topics (``livescope.reply.<x>``,
each popped by one back-end command only), any other frame to the path's own topic.
"""

from __future__ import annotations

from typing import Any

from livescope.agent import meshwire as wire
from livescope.mesh.hub import ClientConn


def is_reply_topic(topic: str, agent_topics: frozenset[str]) -> bool:
    """A back end's private reply topic on an agents' path (kept only while it is used)."""
    return any(wire.is_reply_topic(topic, agents) for agents in agent_topics)


async def on_agent_message(conn: ClientConn, topic: str, frame: dict[str, Any]) -> None:
    """``frame`` from ``conn``, a client of the agents' path whose topic is ``topic``."""
    message = wire.decode(str(frame.get("data", ""))) if frame.get("type") == "text" else None
    if message is not None and message["kind"] == wire.HELLO and "id" not in message:
        info = message.get("agent")
        if isinstance(info, dict):
            register(conn, topic, info)
            return
    destination = topic
    if message is not None and message["kind"] in (wire.HELLO, wire.REPLY):
        to = message.get("to")
        if isinstance(to, str) and wire.is_reply_topic(to, topic):
            destination = to
    await conn.push(destination, {"frame": frame})


def register(conn: ClientConn, topic: str, info: dict[str, Any]) -> None:
    """What a back end would do with the hello, done by the node (again for a repeated one)."""
    conn.set_context(info)
    conn.subscribe(topic, wire.app_channel(topic, str(info.get("app", ""))))
    conn.send(wire.encode(wire.WELCOME, client=str(conn.id)))
