"""Cluster-unique 64-bit client ids that carry the id of the node that owns the connection.

Layout (Twitter snowflake): 41 bits of milliseconds since 2010-11-04, 10 bits of node id,
12 bits of sequence. Ids minted today have 19 decimal digits; any node can tell from an id
which node to route a ``mesh.send`` to without asking anyone.
"""

from __future__ import annotations

import time

EPOCH_MS = 1288834974657
NODE_BITS = 10
SEQ_BITS = 12
MAX_NODE = (1 << NODE_BITS) - 1


def node_of(client_id: int) -> int:
    """The node id embedded in ``client_id``."""
    return (client_id >> SEQ_BITS) & MAX_NODE


class Snowflake:
    """Mints increasing ids for one node (single event loop, so no lock)."""

    def __init__(self, node_id: int) -> None:
        if not 0 <= node_id <= MAX_NODE:
            raise ValueError(f"node id must be 0..{MAX_NODE}")
        self.node_id = node_id
        self._last_ms = 0
        self._seq = 0

    def next(self) -> int:
        now = int(time.time() * 1000)
        if now <= self._last_ms:
            self._seq = (self._seq + 1) & ((1 << SEQ_BITS) - 1)
            if self._seq == 0:
                self._last_ms += 1  # borrow from the future rather than sleep
            now = self._last_ms
        else:
            self._seq = 0
            self._last_ms = now
        return ((now - EPOCH_MS) << (NODE_BITS + SEQ_BITS)) | (self.node_id << SEQ_BITS) | self._seq
