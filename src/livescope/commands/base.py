"""What a command is, and what the agent hands it while it runs.

A command is a class with a name, a declared argument spec and a ``run`` method. ``run`` is
called in the job's own worker thread and lasts as long as the job: a one-shot command returns
when done; a streaming command (watch, dashboard) installs what it needs, then blocks in
``ctx.wait()`` until it is interrupted or calls ``ctx.finish()``. Returning normally ends the
job with status 0; raising :class:`CommandError` ends it with that status and message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from livescope.commands.spec import Argument, Option, ParsedArgs

if TYPE_CHECKING:
    from livescope.model.base import ResultModel


class CommandError(Exception):
    """Ends the job with ``status`` ``status_code`` and ``message`` (Arthas: -1 validation, 1 runtime)."""

    def __init__(self, message: str, status_code: int = -1) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class SessionView(Protocol):
    """The part of a session a command may read."""

    session_id: str
    user_id: str | None
    history: list[str]


class AgentView(Protocol):
    """The part of the agent a command may use."""

    pid: int
    start_time: float  # epoch seconds when the agent started
    version: str
    options: dict[str, Any]  # name -> value, see livescope.agent.options
    output_dir: str  # files served under /livescope-output/ (profiles, heap dumps)

    def commands(self) -> Sequence[type[Command]]: ...
    def shutdown(self) -> None: ...


class CommandContext(Protocol):
    """The running job, as the command sees it. Every method is thread-safe."""

    job_id: int
    session: SessionView
    agent: AgentView

    def emit(self, model: ResultModel) -> None:
        """Send one result to the job's consumers (or the exec response). Never blocks long."""

    @property
    def interrupted(self) -> bool:
        """True once the job has been interrupted, timed out, or finished."""

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job should stop or ``timeout`` passes; True if it should stop."""

    def finish(self) -> None:
        """Ask the job to end normally (e.g. ``-n`` reached from a hook thread)."""

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once when the job ends, for any reason (hooks removed here)."""


class Command:
    """Base class of all commands. Subclasses declare the spec and implement :meth:`run`."""

    name: ClassVar[str]
    summary: ClassVar[str]
    description: ClassVar[str] = ""
    usage: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    arguments: ClassVar[tuple[Argument, ...]] = ()
    examples: ClassVar[tuple[str, ...]] = ()
    # Ended when the reaper drops its session's last consumer: it costs the target (hooks on
    # its functions) while nobody is left to read its results.
    ends_unattended: ClassVar[bool] = False

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        raise NotImplementedError
