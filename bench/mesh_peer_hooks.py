"""Connection hooks for the mesh nodes bench/mesh_peer.py starts (``livescope mesh --hooks``).

A client's ``join CHANNEL`` message subscribes it and is answered with ``joined CLIENT_ID``, as
python-socketio's side answers its ``join`` event; any other message takes the default path.
"""

from __future__ import annotations

from typing import Any

from livescope.mesh.hooks import default_on_message
from livescope.mesh.hub import ClientConn


async def on_message(conn: ClientConn, frame: dict[str, Any]) -> None:
    data = frame["data"]
    if frame["type"] == "text" and data.startswith("join "):
        conn.subscribe(data[5:])
        conn.send(f"joined {conn.id}")
        return
    await default_on_message(conn, frame)
