"""The ``/ws`` terminal's own commands: leaving, job control, the screen and the key map.

They belong to the shell, not to the agent (Arthas's termd has them too), so they never become
jobs: ``jobs``, ``fg``, ``kill`` act on the session's jobs; ``cls`` and ``keymap`` answer here,
where there is a screen, instead of the API's "only support tty session".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from livescope.agent.text_views import Paint, table

if TYPE_CHECKING:
    from livescope.agent.jobs import Job
    from livescope.agent.terminal import Terminal
    from livescope.commands.cmdline import CommandLine

KEYMAP = (
    ("Enter", "run the line"),
    ("Tab", "complete a command, option or pipe command"),
    ("Up / Down, Ctrl-P / Ctrl-N", "walk the history"),
    ("Left / Right, Ctrl-B / Ctrl-F", "move the cursor"),
    ("Home / End, Ctrl-A / Ctrl-E", "start / end of line"),
    ("Ctrl/Alt-Left, Alt-B / Alt-F", "word left / right"),
    ("Backspace / Delete", "delete before / under the cursor"),
    ("Ctrl-U / Ctrl-K / Ctrl-W", "delete to start / to end / the word before"),
    ("Ctrl-L", "clear the screen"),
    ("Ctrl-C, q", "interrupt the running job"),
    ("Ctrl-D on an empty line", "close the terminal (also: exit, quit)"),
)


def builtin_exit(terminal: Terminal, command: CommandLine) -> None:
    terminal.leave()


def builtin_jobs(terminal: Terminal, command: CommandLine) -> None:
    jobs = sorted(terminal.session.jobs, key=lambda j: j.job_id)
    rows = ([f"[{j.job_id}]", j.status, j.line.text] for j in jobs)
    terminal.print_lines(table(rows, None, Paint(True)))


def _job(terminal: Terminal, command: CommandLine) -> Job | None:
    """The job named by the first argument (``1`` or ``%1``), else the newest background job."""
    jobs = {j.job_id: j for j in terminal.session.jobs}
    if not command.args:
        return jobs[max(jobs)] if jobs else None
    text = command.args[0].lstrip("%")
    return jobs.get(int(text)) if text.isdigit() else None


def builtin_fg(terminal: Terminal, command: CommandLine) -> None:
    job = _job(terminal, command)
    if job is None:
        terminal.fail(f"{command.name}: no such job")
        return
    terminal.print_lines([job.line.text])
    job.background = False
    terminal.session.foreground = job
    terminal.session.input_status("ALLOW_INTERRUPT")
    terminal.foreground = job


def builtin_kill(terminal: Terminal, command: CommandLine) -> None:
    job = _job(terminal, command) if command.args else None
    if job is None:
        terminal.fail(f"{command.name}: no such job")
        return
    job.interrupt()


def builtin_cls(terminal: Terminal, command: CommandLine) -> None:
    terminal.out.write("\x1b[H\x1b[2J")


def builtin_keymap(terminal: Terminal, command: CommandLine) -> None:
    paint = Paint(True)
    terminal.print_lines(table(([paint("cyan", k), a] for k, a in KEYMAP), None, paint))


BUILTINS: dict[str, Callable[[Terminal, CommandLine], None]] = {
    "exit": builtin_exit,
    "quit": builtin_exit,
    "jobs": builtin_jobs,
    "fg": builtin_fg,
    "kill": builtin_kill,
    "cls": builtin_cls,
    "keymap": builtin_keymap,
}
