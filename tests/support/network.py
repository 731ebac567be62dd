"""The machine's network, as tests that need a peer the agent sees as remote use it."""

from __future__ import annotations

import socket
import subprocess


def non_loopback_ipv4() -> str | None:
    """An IPv4 address of this machine outside 127/8 that accepts connections, if any."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for address in out.split():
        if "." in address and not address.startswith("127."):
            try:
                with socket.create_connection((address, 9), timeout=0.2):
                    pass
            except ConnectionRefusedError:
                return address  # reachable: the kernel answered for it
            except OSError:
                continue
            return address
    return None
