"""The classic web console on ``/ws`` (reference §10): an interactive shell over one session.

:mod:`livescope.agent.websocket` accepts the socket and hands its text frames here. Each
terminal is one session of the agent for as long as the socket is open: command lines become
jobs exactly as ``async_exec`` makes them, and their results come back through a consumer of
the session like any API client's, rendered as text by :mod:`livescope.agent.text_views`.
Client frames are JSON: ``{"action":"read","data":keys}`` and ``{"action":"resize",...}``;
everything sent back is terminal output with ``\\r\\n`` line ends (xterm.js, ``convertEol``).

All of it runs on the agent's loop: keystrokes, results and drawing never race, and output goes
out in the order it was produced through one writer task, which is also the back-pressure: the
terminal pulls the next results only once the last ones reached the socket, so a slow browser
makes the session's consumer unhealthy and the job is interrupted, as for any slow consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from livescope.agent.api import schedule_job
from livescope.agent.jobs import JobCreationError
from livescope.agent.line_editor import (
    CTRL_C,
    CTRL_D,
    CTRL_L,
    DELETE,
    ENTER,
    TAB,
    KeyDecoder,
    LineDisplay,
    LineEditor,
)
from livescope.agent.sessions import welcome_model
from livescope.agent.shell_builtins import BUILTINS
from livescope.agent.text_views import Paint, columns, render
from livescope.commands.cmdline import CommandLineError, parse_command_line
from livescope.commands.completion import complete, spec_words
from livescope.commands.pipes import PipeError, Pipeline

if TYPE_CHECKING:
    from livescope.agent.jobs import Job
    from livescope.commands.base import AgentView

SendText = Callable[[str], Awaitable[None]]
DRAIN_ON_LEAVE = 2.0  # seconds the last output may take to reach the socket
ABORT_KEYS = frozenset({CTRL_C, "q", "Q"})  # "Press Q or Ctrl+C to abort."


async def serve_terminal(
    agent: AgentView,
    send_text: SendText,
    receive: AsyncIterator[str],
    query: Mapping[str, str] | None = None,
) -> None:
    """Run one terminal until the client leaves (``exit``, Ctrl-D, closed socket)."""
    query = query or {}
    terminal = Terminal(agent, send_text, user_id=query.get("userId") or None)
    await terminal.run(receive, banner=query.get("quiet", "").lower() != "true")


class Output:
    """Text for the socket, sent in order by one writer task; ``\\n`` goes out as ``\\r\\n``."""

    def __init__(self, send_text: SendText) -> None:
        self._send = send_text
        self._parts: list[str] = []
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def write(self, text: str) -> None:
        if text:
            self._parts.append(text)
            self._ready.set()
            self._idle.clear()

    async def run(self) -> None:
        """Send until the socket closes (the reading side then ends the terminal)."""
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                text, self._parts = "".join(self._parts), []
                await self._send(text.replace("\r\n", "\n").replace("\n", "\r\n"))
                if not self._parts:
                    self._idle.set()
        except ConnectionError:
            pass
        finally:
            self._idle.set()  # nothing more will be sent: nobody waits for it

    async def drain(self) -> None:
        await self._idle.wait()


class JobOutput:
    """How one job's results are shown: through its pipes, buffered when a pipe needs it all."""

    def __init__(self, pipeline: Pipeline | None) -> None:
        self.pipeline = pipeline
        self.buffered: list[str] = []

    def lines(self, item: dict[str, Any]) -> list[str]:
        if self.pipeline is None:
            return render(item)
        lines = render(item, color=False)  # grep sees the words, not the colour escapes
        if self.pipeline.streaming:
            return self.pipeline(lines)
        self.buffered += lines
        return []

    def flush(self) -> list[str]:
        if self.pipeline is None or self.pipeline.streaming or not self.buffered:
            return []
        return self.pipeline(self.buffered)


class Terminal:
    """One shell: the prompt and line editor, the session's jobs, their output."""

    def __init__(self, agent: AgentView, send_text: SendText, user_id: str | None) -> None:
        self.agent = agent
        self.out = Output(send_text)
        # Temporary: the socket, not the idle reaper, decides when this session ends.
        self.session = agent.sessions.create(user_id, temporary=True)  # type: ignore[attr-defined]
        self.consumer = self.session.add_consumer()
        self.keys = KeyDecoder()
        self.editor = LineEditor(self.session.history)
        self.display = LineDisplay()
        self.prompt = f"[livescope@{agent.pid}]$ "
        self.foreground: Job | None = None  # the job the prompt waits for
        self.outputs: dict[int, JobOutput] = {}
        self.typeahead: list[str] = []  # keys typed while a job ran, replayed at the prompt
        self.leaving = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------
    async def run(self, receive: AsyncIterator[str], banner: bool) -> None:
        tasks = [
            asyncio.ensure_future(self.out.run()),
            asyncio.ensure_future(self._show_results()),
            asyncio.ensure_future(self._read_frames(receive)),
            asyncio.ensure_future(self.leaving.wait()),
        ]
        try:
            if banner:
                self.out.write("\n".join(render(welcome_model(self.agent).to_wire())) + "\n")
            self.session.input_status("ALLOW_INPUT")
            self.redraw()
            await asyncio.wait(tasks[1:], return_when=asyncio.FIRST_COMPLETED)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.out.drain(), DRAIN_ON_LEAVE)
        finally:
            self.close()
            for task in tasks:
                task.cancel()

    def close(self) -> None:
        """Interrupt every job of the session (hooks go with them) and forget the session."""
        for job in list(self.session.jobs):
            job.interrupt()
        self.session.manager.remove(self.session)

    def leave(self) -> None:
        self.leaving.set()

    # -- input ---------------------------------------------------------------------------------
    async def _read_frames(self, receive: AsyncIterator[str]) -> None:
        async for frame in receive:
            self.session.touch()
            self.on_frame(frame)
            if self.leaving.is_set():
                return

    def on_frame(self, frame: str) -> None:
        """One client frame; anything that is not a known JSON action is ignored."""
        try:
            message = json.loads(frame)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        action = message.get("action")
        if action == "read" and isinstance(message.get("data"), str):
            for key in self.keys.feed(message["data"]):
                if self.leaving.is_set():
                    return
                self.on_key(key)
        elif action == "resize":
            cols = message.get("cols")
            if isinstance(cols, int) and not isinstance(cols, bool) and 0 < cols <= 10000:
                self.display.cols = cols

    def on_key(self, key: str) -> None:
        if self.foreground is not None:
            if key in ABORT_KEYS:
                self.typeahead.clear()
                self.foreground.interrupt()
            else:
                self.typeahead.append(key)
        elif key == ENTER:
            line = self.editor.accept()
            self.out.write(self.display.finish(self.prompt, line))
            self.run_line(line)
        elif key == TAB:
            self.complete()
        elif key == CTRL_C:
            self.out.write(self.display.finish(self.prompt, self.editor.text + "^C"))
            self.editor.accept()
            self.redraw()
        elif key == CTRL_D and not self.editor.text:
            self.out.write(self.display.finish(self.prompt, ""))
            self.leave()
        elif key == CTRL_L:
            self.out.write("\x1b[H\x1b[2J" + self.display.erase())
            self.redraw()
        elif self.editor.handle(DELETE if key == CTRL_D else key):
            self.redraw()

    def redraw(self) -> None:
        if self.foreground is None and not self.leaving.is_set():
            self.out.write(self.display.draw(self.prompt, self.editor.text, self.editor.cursor))

    def complete(self) -> None:
        current, candidates = complete(self.words(), self.editor.text[: self.editor.cursor])
        if not candidates:
            self.out.write("\x07")
            return
        prefix = os.path.commonprefix(candidates)
        if len(candidates) == 1:
            self.editor.insert(prefix[len(current) :] + " ")
        elif len(prefix) > len(current):
            self.editor.insert(prefix[len(current) :])
        else:
            self.out.write(self.display.finish(self.prompt, self.editor.text))
            self.out.write("\n".join(columns(candidates, self.display.cols)) + "\n")
        self.redraw()

    def words(self) -> dict[str, list[str]]:
        """Completion words: every command (registered ones too) with its declared options."""
        words = {cls.name: spec_words(cls.options) for cls in self.agent.commands()}
        words.update((name, []) for name in BUILTINS if name not in words)
        return words

    # -- commands ------------------------------------------------------------------------------
    def run_line(self, line: str) -> None:
        if not line.strip():
            self.redraw()
            return
        try:
            command = parse_command_line(line)
            pipeline = Pipeline(command.pipes) if command.pipes else None
        except (CommandLineError, PipeError) as exc:
            self.session.history.append(line)
            self.fail(str(exc))
            return
        builtin = BUILTINS.get(command.name)
        if builtin is not None:
            self.session.history.append(line)
            builtin(self, command)
            self.redraw()
            return
        if self.session.foreground is not None:  # a job started by an API client that joined
            self.fail("Another job is running.")
            return
        try:
            job = schedule_job(self.agent, self.session, line)
        except JobCreationError as exc:
            # The API's message names an exception class; a shell just says what is wrong.
            self.fail(str(exc).removeprefix("ValueError: "))
            return
        self.outputs[job.job_id] = JobOutput(pipeline)
        if job.background:
            self.print_lines([f"[{job.job_id}] {line}"])
        else:
            self.foreground = job
        job.start()

    def fail(self, message: str) -> None:
        self.print_lines([Paint(True)("red", message)])

    def print_lines(self, lines: list[str]) -> None:
        """Print above the prompt when one is shown (output of background jobs)."""
        if not lines:
            return
        prompt_shown = self.foreground is None
        if prompt_shown:
            self.out.write(self.display.erase())
        self.out.write("\n".join(lines) + "\n")
        if prompt_shown:
            self.redraw()

    # -- results -------------------------------------------------------------------------------
    async def _show_results(self) -> None:
        while not self.consumer.closed:
            for model in await self.consumer.pull():
                self.show(model.to_wire())
            job = self.foreground
            if job is not None and job.done.is_set() and not self.consumer.queue:
                self.end_foreground()  # its status never came (dropped from a full queue)
            await self.out.drain()

    def show(self, item: dict[str, Any]) -> None:
        job_id = item.get("jobId", 0)
        output = self.outputs.get(job_id)
        if item.get("type") == "status":
            self.outputs.pop(job_id, None)
            self.print_lines((output.flush() if output else []) + render(item))
            job = self.foreground
            if job is not None and job.job_id == job_id:
                if job.line.name == "stop" and item.get("statusCode") == 0:
                    self.leave()  # the agent is shutting down: no prompt, no typeahead
                self.end_foreground()
            return
        self.print_lines(output.lines(item) if output is not None else render(item))

    def end_foreground(self) -> None:
        self.foreground = None
        self.redraw()
        pending, self.typeahead = self.typeahead, []
        for key in pending:
            if self.leaving.is_set():
                return
            self.on_key(key)


__all__ = ["serve_terminal"]
