"""livescope: live diagnostics for running Python processes, driven through the Arthas HTTP API.

Inside a program::

    import livescope
    livescope.start()          # agent on http://127.0.0.1:8563, console: `livescope console`
    ...
    livescope.stop()           # hooks removed, thread ended, port closed

Importing this package imports nothing else: the agent loads when ``start`` is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from livescope.agent.runtime import Agent


def start(
    host: str = "127.0.0.1", port: int = 8563, password: str | None = None, **options: Any
) -> Agent:
    """Start the agent thread (or return the one already running) and return it."""
    from livescope.agent import runtime

    return runtime.start(host=host, port=port, password=password, **options)


def stop() -> None:
    """Shut the agent down: every session closed, every hook removed, port freed, thread ended."""
    from livescope.agent import runtime

    runtime.stop()


__all__ = ["__version__", "start", "stop"]
