"""Per-connection Python hooks (the original product used Lua scripts).

A hooks file may define any of, sync or async:

- ``on_handshake(conn, request)``: return False to refuse the connection (handshake auth);
  ``request`` is the aiohttp request (headers, query, path).
- ``on_message(conn, frame)``: ``frame`` is ``{"type": "text"|"binary", "data", "finish"}``
  (binary data in base64). The default pushes ``{"frame": frame}`` to the queue topic named by
  the connection's path (``/chat`` -> ``chat``), except on the agents' paths (``/livescope``,
  ``livescope mesh --agent-path``), where the node handles livescope agents itself
  (:mod:`livescope.mesh.agent_hook`). A file's own ``on_message`` replaces that default on
  every path; to keep agents working it can hand their frames back with
  ``await livescope.mesh.hooks.default_on_message(conn, frame)``.
- ``on_close(conn)``.

``conn`` offers ``id``, ``path``, ``headers``, ``context``, ``push(topic, data)``, ``send(data)``,
``subscribe(*channels)``, ``unsubscribe(*channels)``, ``close()`` and
``await conn.wait_context_value(key, timeout=None)``, which holds the connection's messages
until the back end sets ``key`` (``conn.call set_context_value``).
"""

from __future__ import annotations

import inspect
import runpy
from typing import Any

from livescope.mesh.agent_hook import on_agent_message
from livescope.mesh.hub import ClientConn


def topic_of(path: str) -> str:
    return path.strip("/") or "default"


async def default_on_message(conn: ClientConn, frame: dict[str, Any]) -> None:
    topic = topic_of(conn.path)
    if topic in conn.hub.agent_topics:
        await on_agent_message(conn, topic, frame)
    else:
        await conn.push(topic, {"frame": frame})  # spec/004


class Hooks:
    """The three hooks, each awaited if the file defines it as a coroutine function."""

    def __init__(self, namespace: dict[str, Any] | None = None) -> None:
        namespace = namespace or {}
        self._handshake = namespace.get("on_handshake")
        self._message = namespace.get("on_message", default_on_message)
        self._close = namespace.get("on_close")

    @classmethod
    def load(cls, path: str | None) -> Hooks:
        return cls(runpy.run_path(path) if path else None)

    async def handshake(self, conn: ClientConn, request: Any) -> bool:
        if self._handshake is None:
            return True
        return (await _call(self._handshake, conn, request)) is not False

    async def message(self, conn: ClientConn, frame: dict[str, Any]) -> None:
        await _call(self._message, conn, frame)

    async def close(self, conn: ClientConn) -> None:
        if self._close is not None:
            await _call(self._close, conn)


async def _call(function: Any, *args: Any) -> Any:
    result = function(*args)
    if inspect.isawaitable(result):
        result = await result
    return result
