"""The machine's network, as tests that need a peer the agent sees as remote use it."""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterator

from support.targets import Target


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


@contextlib.contextmanager
def secured_target(source: str, password: str) -> Iterator[tuple[Target, str]]:
    """A password-protected target and the host through which it sees a remote peer: an
    address of this machine outside loopback if there is one, else loopback with the
    loopback exemption turned off."""
    remote = non_loopback_ipv4()
    if remote is not None:
        kwargs = f', host="0.0.0.0", password={password!r}'
    else:
        kwargs = f", password={password!r}, loopback_exempt=False"
    with Target(source, start_kwargs=kwargs) as target:
        yield target, remote or "127.0.0.1"
