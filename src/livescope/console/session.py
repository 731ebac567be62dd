"""A live console session: one API session, a thread that pulls results, foreground jobs.

The puller thread receives everything the agent queues for this consumer. Items of the
foreground job go to the command that waits for them (so pipes apply and the prompt returns
when its ``status`` arrives); everything else (background ``&`` jobs, session messages) is
printed as it comes.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import httpx

from livescope.commands.cmdline import CommandLineError, parse_command_line
from livescope.commands.pipes import PipeError, Pipeline
from livescope.console.client import AgentUnreachable, ApiClient, ApiError
from livescope.console.output import Printer

LEAVE_COMMANDS = {"exit", "quit", "q"}
_LOST = {"type": "_lost"}  # sentinel: the session is gone, stop waiting


class ConsoleSession:
    def __init__(self, client: ApiClient, printer: Printer) -> None:
        self.client = client
        self.printer = printer
        self.pid: str | None = None
        self.closed = threading.Event()
        self.welcomed = threading.Event()  # the welcome item (with the target's pid) arrived
        self.lock = threading.Lock()
        self.fg_job: int | None = None
        self.pending = False  # an async_exec is in flight: its job id is not known yet
        self.pending_items: list[dict[str, Any]] = []
        self.fg_queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self.puller = threading.Thread(target=self.pull_loop, name="livescope-pull", daemon=True)

    def start(self) -> None:
        self.client.init_session()
        self.puller.start()
        self.welcomed.wait(3.0)  # so the first prompt already names the pid

    def close(self) -> None:
        self.closed.set()
        self.client.close_session()

    # -- result thread ------------------------------------------------------------------
    def pull_loop(self) -> None:
        while not self.closed.is_set():
            try:
                items = self.client.pull_results()
            except (ApiError, AgentUnreachable, httpx.HTTPError) as exc:
                if self.closed.is_set():
                    return
                self.fg_queue.put(_LOST)  # a job being waited for will not finish
                self.printer.console.print(
                    f"session lost: {exc}; reconnecting (Ctrl-D leaves)",
                    style="yellow",
                    markup=False,
                )
                if not self.reconnect():
                    return
                continue
            for item in items:
                self.dispatch(item)

    def reconnect(self) -> bool:
        """A new session once the agent answers again (it restarted, or the network came
        back); False if the console was closed meanwhile."""
        delay = 0.5
        while not self.closed.wait(delay):
            try:
                self.client.init_session()
            except (ApiError, AgentUnreachable, httpx.HTTPError):
                delay = min(delay * 2, 5.0)
                continue
            self.welcomed.clear()
            self.printer.console.print("reconnected: a new session", style="green")
            return True
        return False

    def dispatch(self, item: dict[str, Any]) -> None:
        if item.get("type") == "welcome" and item.get("pid") is not None:
            self.pid = str(item["pid"])
            self.welcomed.set()
        job = item.get("jobId", 0)
        with self.lock:
            if job and self.pending:
                self.pending_items.append(item)
                return
            mine = self.fg_job is not None and job == self.fg_job
        if mine:
            self.fg_queue.put(item)
        else:
            self.printer.show([item])

    def settle(self, fg_job: int | None) -> None:
        """The job id of the last async_exec is known: route what arrived meanwhile."""
        with self.lock:
            self.pending, self.fg_job = False, fg_job
            early, self.pending_items = self.pending_items, []
        for item in early:
            self.dispatch(item)

    # -- commands -----------------------------------------------------------------------
    def run_line(self, line: str) -> bool:
        """Run one console line; False when the console should leave."""
        try:
            command = parse_command_line(line)
            pipeline = Pipeline(command.pipes) if command.pipes else None
        except (CommandLineError, PipeError) as exc:
            self.printer.console.print(str(exc), style="red", markup=False)
            return True
        if command.name in LEAVE_COMMANDS:
            return False
        if command.name in ("cls", "clear"):
            self.printer.console.clear()
            return True
        with self.lock:
            self.pending = True
        try:
            job = self.client.async_exec(line)
        except ApiError as exc:
            self.settle(None)
            self.printer.console.print(exc.message, style="red", markup=False)
            return True
        except (AgentUnreachable, httpx.HTTPError) as exc:
            self.settle(None)
            self.printer.console.print(f"{exc} (reconnecting)", style="red", markup=False)
            return True
        if command.background:
            self.settle(None)
            self.printer.console.print(f"[{job}] running in the background", markup=False)
            return True
        self.settle(job)
        try:
            self.wait_job(pipeline)
        finally:
            self.settle(None)
        return not (command.name == "stop" or self.closed.is_set())

    def wait_job(self, pipeline: Pipeline | None) -> None:
        """Show the foreground job's results until its status; Ctrl-C interrupts the job."""
        buffered: list[dict[str, Any]] = []
        interrupts = 0
        while True:
            try:
                try:
                    item = self.fg_queue.get(timeout=0.2)
                except queue.Empty:
                    continue
                if item is _LOST:
                    break
                if pipeline is None:
                    self.printer.show([item])
                elif pipeline.streaming:
                    self.printer.show_piped([item], pipeline)
                else:
                    buffered.append(item)
                if item.get("type") == "status":
                    break
            except KeyboardInterrupt:
                interrupts += 1
                if interrupts > 2:
                    self.printer.console.print("stopped waiting for the job", style="yellow")
                    break
                self.client.interrupt_job()
        if pipeline is not None and buffered:
            self.printer.show_piped(buffered, pipeline)
