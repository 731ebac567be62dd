"""The ``profiler`` command: start/stop/status/dump of the sampling profiler (one per process)."""

from __future__ import annotations

import json
import os
import threading
import time

from livescope.commands.base import Command, CommandContext, CommandError
from livescope.commands.spec import Argument, Option, ParsedArgs
from livescope.model.inspect import ProfilerModel
from livescope.profiler.sampler import Sampler, collapsed, flame_html, speedscope

ACTIONS = ("start", "stop", "status", "dump", "list", "getSamples", "actions")
# Python has no hardware counters to sample on: every event is a wall-clock stack sample.
EVENTS = ("cpu", "wall", "itimer")
NOT_ACTIVE = "Profiler is not active"
FORMATS = {"html": ".html", "collapsed": ".txt", "speedscope": ".speedscope.json"}

_current: Sampler | None = None
_lock = threading.Lock()


def write_profile(sampler: Sampler, fmt: str, path: str | None, output_dir: str) -> str:
    if path is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = os.path.join(output_dir, f"profile-{stamp}-{os.getpid()}{FORMATS[fmt]}")
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    stacks = sampler.snapshot()
    title = f"livescope profile of pid {os.getpid()} ({sampler.samples} samples)"
    if fmt == "collapsed":
        text = collapsed(stacks)
    elif fmt == "speedscope":
        text = json.dumps(speedscope(sampler.snapshot_times(), title))
    else:
        text = flame_html(stacks, title)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


class ProfilerCommand(Command):
    name = "profiler"
    summary = "Sampling profiler: flame graphs of where the threads spend their time"
    description = (
        "A thread samples the stacks of every other thread (sys._current_frames) every -e ms "
        "(default 10) and counts identical stacks; each stack's root is the thread name, frames "
        "are 'module.Class.function (file:first line)'. No code is instrumented.\n"
        "start [-e ms] [--duration s]: with --duration the job waits that long, stops and "
        "writes the file. status: executeResult says whether it runs and how many samples it "
        "has ('Profiler is not active' before a start). getSamples: the sample count alone. "
        "list: the events --event accepts. dump: write the samples so far, keep sampling. "
        "stop: stop and write.\n"
        "--event cpu|wall|itimer is accepted as Arthas clients send it; every event samples "
        "wall-clock stacks (a Python process has no CPU-cycle event to sample on).\n"
        "--format html (a self-contained flame graph page), collapsed (folded stacks, one "
        "'a;b;c count' per line, for flamegraph.pl) or speedscope (JSON for speedscope.app, "
        "a profile per thread, weighted by the wall time each sample stands for: a busy "
        "thread delays samples, so there may be fewer than -e asks for). -f FILE chooses the file; by default it goes to the agent's output directory (served "
        "under /livescope-output/). Wall-clock sampling: waiting threads are sampled too."
    )
    usage = (
        "profiler start|stop|status|dump|getSamples|list|actions [-e ms] [--duration s] "
        "[--format F] [-f file] [--event E]"
    )
    options = (
        Option("interval", "e", "sampling interval in ms", type=float, default=10.0),
        Option("duration", "d", "seconds to sample before stopping", type=int),
        Option("format", "o", "html, collapsed or speedscope", default="html"),
        Option("file", "f", "output file"),
        Option("event", None, "cpu, wall or itimer (all sample wall-clock stacks)", default="cpu"),
    )
    arguments = (Argument("action", ", ".join(ACTIONS)),)
    examples = (
        "profiler start",
        "profiler stop --format collapsed",
        "profiler start --duration 10",
    )

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        global _current
        action = args.action
        if action not in ACTIONS:
            raise CommandError(
                f"AsyncProfiler error: unknown action {action}, expected one of {list(ACTIONS)}", 1
            )
        if args.format not in FORMATS:
            raise CommandError(f"Unknown format {args.format}: expected one of {list(FORMATS)}")
        if args.event not in EVENTS:
            raise CommandError(f"AsyncProfiler error: unknown event {args.event}", 1)
        if action == "actions":
            ctx.emit(
                ProfilerModel(job_id=ctx.job_id, action=action, supported_actions=list(ACTIONS))
            )
            return
        if action == "list":
            listing = "Basic events:\n" + "".join(f"  {e}\n" for e in EVENTS)
            ctx.emit(ProfilerModel(job_id=ctx.job_id, action=action, execute_result=listing))
            return
        with _lock:
            sampler = _current
            if action == "start":
                if sampler is not None and sampler.running:
                    raise CommandError("AsyncProfiler error: Profiler already started", 1)
                if args.interval <= 0 or (args.duration is not None and args.duration <= 0):
                    raise CommandError("interval and duration must be > 0")
                sampler = _current = Sampler(args.interval / 1000)
                sampler.start()
        if action == "start":
            if args.duration is None:
                ctx.emit(
                    ProfilerModel(
                        job_id=ctx.job_id, action=action, execute_result="Profiling started\n"
                    )
                )
                return
            ctx.wait(args.duration)
            action = "stop"
        if action == "getSamples":
            count = sampler.samples if sampler is not None else 0
            ctx.emit(
                ProfilerModel(
                    job_id=ctx.job_id, action=action, execute_result=str(count), samples=count
                )
            )
            return
        if sampler is None and action == "status":
            ctx.emit(ProfilerModel(job_id=ctx.job_id, action=action, execute_result=NOT_ACTIVE))
            return
        if sampler is None:
            raise CommandError(f"AsyncProfiler error: {NOT_ACTIVE}", 1)
        if action == "status":
            state = "running" if sampler.running else "stopped"
            result = (
                f"Profiler is {state}, {sampler.samples} samples in {sampler.elapsed:.1f} s "
                f"({sampler.rate:.0f} samples/s)\n"
            )
            ctx.emit(
                ProfilerModel(
                    job_id=ctx.job_id, action=action, execute_result=result, samples=sampler.samples
                )
            )
            return
        if action == "stop":
            if not sampler.running:
                raise CommandError(f"AsyncProfiler error: {NOT_ACTIVE}", 1)
            sampler.stop()
        try:
            path = write_profile(sampler, args.format, args.file, ctx.agent.output_dir)
        except OSError as exc:
            raise CommandError(f"AsyncProfiler error: cannot write profile: {exc}", 1) from None
        ctx.emit(
            ProfilerModel(
                job_id=ctx.job_id,
                action=action,
                format=args.format,
                execute_result=(
                    f"OK, {sampler.samples} samples in {sampler.elapsed:.1f} s "
                    f"({sampler.rate:.0f} samples/s)\n"
                ),
                output_file=path,
                duration=int((sampler.stopped_at or time.time()) - sampler.started_at),
                samples=sampler.samples,
            )
        )


COMMANDS = (ProfilerCommand,)
