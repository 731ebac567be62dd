"""watch, stack, monitor, tt and trace: listeners on the instrumentation engine, owned by a job.

Each command resolves its patterns, hooks the functions, emits an ``enhancer`` item, then
blocks until interrupted, ``-n`` is reached, or the job ends; the hooks are removed by the
job's stop callback on every one of those paths.
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import datetime
from typing import Any

from livescope.commands import calltree
from livescope.commands.base import Command, CommandContext, CommandError
from livescope.commands.spec import (
    Argument,
    Option,
    ParsedArgs,
    boolean,
    non_negative_int,
    positive_int,
)
from livescope.express import ExpressionError, compile_expression
from livescope.instrument import engine
from livescope.instrument.advice import Advice
from livescope.instrument.matcher import MethodRef, find_methods
from livescope.instrument.timetunnel import TUNNEL, replay
from livescope.model.common import EnhancerModel, MessageModel, RowAffectModel
from livescope.model.enhance import (
    MethodNode,
    MonitorData,
    MonitorModel,
    StackModel,
    ThreadNode,
    TimeFragmentVO,
    TimeTunnelModel,
    TraceModel,
    WatchModel,
)
from livescope.model.render import (
    DEFAULT_SIZE_LIMIT,
    render,
    stack_element,
    type_name,
)

NOTHING_AFFECTED = (
    "No class or method is affected, try:\n"
    "1. Execute `sc -d CLASS_PATTERN` / `sm CLASS_PATTERN METHOD_PATTERN` to make sure the"
    " function exists (class pattern `module.Class`, or `module` for module-level functions).\n"
    "2. Execute `options unsafe true` to enhance functions of the standard library.\n"
    "3. Execute `reset CLASS_PATTERN` and try again."
)

PATTERN_ARGUMENTS = (
    Argument("class-pattern", "module.Class (or module) pattern, wildcards or -E regex"),
    Argument("method-pattern", "function name pattern"),
)
COMMON_OPTIONS = (
    Option("regex", "E", "patterns are regular expressions", flag=True),
    Option("exclude-class-pattern", help="classes (or modules) to leave out"),
    Option("limits", "n", "stop after this many hits", type=positive_int, default=100),
)
RENDER_OPTIONS = (
    Option("expand", "x", "object expansion depth", type=non_negative_int, default=1),
    Option(
        "sizeLimit",
        "M",
        "upper size limit of a rendered value",
        type=positive_int,
        default=DEFAULT_SIZE_LIMIT,
        dest="size_limit",
    ),
)


def now_text() -> str:
    """Local time as Arthas prints ``LocalDateTime``: ``yyyy-MM-dd HH:mm:ss.SSS``."""
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def compile_or_fail(text: str | None) -> Any:
    """The expression as a function of an advice (its fastest form), None for no text."""
    if not text:
        return None
    try:
        return compile_expression(text).on_advice
    except ExpressionError as exc:
        raise CommandError(str(exc)) from None


def shared_wrapper_message(ref: MethodRef) -> str:
    wrapper = ref.extra["shared_wrapper"]
    return (
        f"{ref.class_name}.{ref.method_name} is reachable only through {wrapper}, a closure"
        " whose code every function made from it shares (a decorator without functools.wraps,"
        f" or a factory): calls of all of them may be reported as {ref.method_name}. A decorator"
        " with functools.wraps lets the function itself be hooked."
    )


class HitListener(engine.Listener):
    """Common to every enhance command: condition, hit counting, one error report, -n."""

    def __init__(self, ctx: CommandContext, args: ParsedArgs, condition: str | None) -> None:
        super().__init__()
        self.ctx = ctx
        self.args = args
        self.condition_text = condition
        self.condition = compile_or_fail(condition)
        self.limit = args.get("limits") or 0
        self.hits = 0
        self.lock = threading.Lock()
        self.error_reported = False
        # Hooks go in before the ``enhancer`` item is emitted; until it is out, another
        # thread's calls produce nothing, so that ``enhancer`` is always the first result.
        self.armed = False

    def evaluate(self, function: Any, advice: Advice, what: str) -> tuple[bool, Any]:
        """(ok, value); a failing expression is reported once and the hit skipped."""
        try:
            return True, function(advice)
        except Exception as exc:
            self.report_failure(what, exc)
            return False, None

    def report_failure(self, what: str, exc: Exception) -> None:
        if self.armed and not self.error_reported:
            self.error_reported = True
            self.ctx.emit(MessageModel(message=f"{what} failed: {type(exc).__name__}: {exc}"))

    def accept(self, advice: Advice) -> bool:
        """True when the condition holds and the hit limit allows one more result."""
        # This runs on every call of a hooked function: the common "condition false" answer
        # comes first and nothing is formatted unless an expression fails.
        if self.condition is not None:
            try:
                if not self.condition(advice):
                    return False
            except Exception as exc:
                self.report_failure(f"Condition express '{self.condition_text}'", exc)
                return False
        if not self.armed or self.ctx.interrupted:
            return False
        with self.lock:
            if self.limit and self.hits >= self.limit:
                return False
            self.hits += 1
        return True

    def uncount(self) -> None:
        """Give back the hit :meth:`accept` took for a call that produced no result."""
        with self.lock:
            self.hits -= 1

    def counted(self) -> None:
        """After a result was emitted: end the job once ``-n`` is reached."""
        if self.limit and self.hits >= self.limit:
            self.ctx.emit(
                MessageModel(
                    message=f"Command execution times exceed limit: {self.limit}, so command"
                    " will exit. You can set it with -n option."
                )
            )
            self.ctx.finish()


class EnhanceCommand(Command):
    """Resolve patterns, hook them for this job's listener, emit ``enhancer``, wait."""

    arguments = PATTERN_ARGUMENTS
    ends_unattended = True

    def make_listener(self, ctx: CommandContext, args: ParsedArgs) -> HitListener:
        raise NotImplementedError

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        listener = self.make_listener(ctx, args)
        try:
            refs = find_methods(
                args.class_pattern,
                args.method_pattern,
                regex=bool(args.regex),
                exclude_class_pattern=args.exclude_class_pattern,
                unsafe=bool(ctx.agent.options.get("unsafe")),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if not refs:
            ctx.emit(EnhancerModel(success=False, message=NOTHING_AFFECTED))
            raise CommandError(NOTHING_AFFECTED)
        ctx.on_stop(lambda: engine.remove(listener))
        effect = engine.enhance(refs, listener)
        if args.get("verbose"):
            effect.methods = [f"{r.class_name}.{r.method_name}" for r in refs]
        ctx.emit(EnhancerModel(success=True, effect=effect))
        for ref in refs:
            if "shared_wrapper" in ref.extra:
                ctx.emit(MessageModel(message=shared_wrapper_message(ref)))
        listener.armed = True
        self.wait(ctx, listener)

    def wait(self, ctx: CommandContext, listener: HitListener) -> None:
        ctx.wait()


class WatchListener(HitListener):
    def __init__(self, ctx: CommandContext, args: ParsedArgs) -> None:
        super().__init__(ctx, args, args.condition_express)
        self.express_text = args.express or "{params, target, returnObj}"
        self.express = compile_or_fail(self.express_text)
        self.wants_before = bool(args.before)
        self.on_exception = bool(args.exception)
        self.on_success = bool(args.success)
        self.on_finish = bool(args.finish) or not (args.before or args.exception or args.success)

    def before(self, advice: Advice) -> None:
        self.emit(advice)

    def after(self, advice: Advice) -> None:
        if (
            self.on_finish
            or (self.on_exception and advice.is_throw)
            or (self.on_success and advice.is_return)
        ):
            self.emit(advice)

    def emit(self, advice: Advice) -> None:
        if not self.accept(advice):
            return
        ok, value = self.evaluate(self.express, advice, f"Express '{self.express_text}'")
        if not ok:
            self.uncount()  # -n counts the results shown
            return
        expand, size_limit = self.args.expand, self.args.size_limit
        self.ctx.emit(
            WatchModel(
                ts=now_text(),
                cost=advice.cost,
                value=render(value, expand, size_limit),
                size_limit=size_limit,
                expand=expand,
                class_name=advice.class_name,
                method_name=advice.method_name,
                access_point=advice.access_point,
            )
        )
        self.counted()


class WatchCommand(EnhanceCommand):
    name = "watch"
    summary = "Display the input/output parameter, return object, and thrown exception of a call"
    usage = "watch [-bcefsx] [-n <value>] class-pattern method-pattern [express] [condition]"
    options = (
        Option("before", "b", "watch before the call", flag=True),
        Option("exception", "e", "watch after an exception", flag=True),
        Option("success", "s", "watch after a successful return", flag=True),
        Option("finish", "f", "watch after the call ends (default)", flag=True),
        *COMMON_OPTIONS,
        *RENDER_OPTIONS,
        Option("verbose", "v", "list the enhanced functions", flag=True),
    )
    arguments = (
        *PATTERN_ARGUMENTS,
        Argument("express", "what to show, default {params, target, returnObj}", required=False),
        Argument("condition-express", "only calls where this is true", required=False),
    )
    examples = (
        'watch demo.MathGame primeFactors "{params, returnObj, throwExp}" -x 2',
        "watch demo.MathGame primeFactors -e throwExp",
        'watch demo.MathGame primeFactors params "params[0] < 0"',
        'watch demo.MathGame primeFactors returnObj "#cost > 10"',
    )

    def make_listener(self, ctx: CommandContext, args: ParsedArgs) -> HitListener:
        return WatchListener(ctx, args)


def caller_frames(advice: Advice) -> list[dict[str, Any]]:
    """The hooked call's stack (innermost first), without livescope's own frames.

    The wrapper backend runs before the function's frame exists, so the function is then
    described from its code object.
    """
    frame = sys._getframe(1)
    elements = []
    while frame is not None:
        if not frame.f_globals.get("__name__", "").startswith("livescope"):
            elements.append(stack_element(frame))
            if len(elements) == 1 and frame.f_code is not advice.method.__code__:
                code = advice.method.__code__
                elements.insert(
                    0,
                    {
                        "className": advice.class_name,
                        "methodName": code.co_name,
                        "fileName": code.co_filename,
                        "lineNumber": code.co_firstlineno,
                        "nativeMethod": False,
                    },
                )
        frame = frame.f_back
    return elements


class StackListener(HitListener):
    wants_before = True

    def __init__(self, ctx: CommandContext, args: ParsedArgs) -> None:
        super().__init__(ctx, args, args.condition_express)

    def before(self, advice: Advice) -> None:
        advice.keep(self, caller_frames(advice))

    def after(self, advice: Advice) -> None:
        frames = advice.kept(self)
        if frames is None or not self.accept(advice):
            return
        thread = threading.current_thread()
        self.ctx.emit(
            StackModel(
                ts=now_text(),
                cost=advice.cost,
                thread_name=thread.name,
                thread_id=str(thread.ident),
                daemon=thread.daemon,
                stack_trace=frames,
            )
        )
        self.counted()


class StackCommand(EnhanceCommand):
    name = "stack"
    summary = "Display the stack trace of the calls to a function"
    usage = "stack [-E] [-n <value>] class-pattern method-pattern [condition-express]"
    options = COMMON_OPTIONS
    arguments = (
        *PATTERN_ARGUMENTS,
        Argument("condition-express", "only calls where this is true", required=False),
    )
    examples = ("stack demo.MathGame primeFactors", 'stack demo.MathGame primeFactors "#cost>5"')

    def make_listener(self, ctx: CommandContext, args: ParsedArgs) -> HitListener:
        return StackListener(ctx, args)


class MonitorListener(HitListener):
    def __init__(self, ctx: CommandContext, args: ParsedArgs) -> None:
        super().__init__(ctx, args, args.condition_express)
        self.limit = 0  # -n counts cycles for monitor
        self.stats: dict[tuple[str, str], list] = {}
        # -b: the condition sees the call as it starts, before the body changes its params.
        self.wants_before = bool(args.before) and self.condition is not None

    def before(self, advice: Advice) -> None:
        advice.keep(self, self.accept(advice))

    def after(self, advice: Advice) -> None:
        if not (advice.kept(self) is True if self.wants_before else self.accept(advice)):
            return
        key = (advice.class_name, advice.method_name)
        with self.lock:
            row = self.stats.setdefault(key, [0, 0, 0, 0.0])
            row[0] += 1
            row[1 if advice.is_return else 2] += 1
            row[3] += advice.cost

    def flush(self) -> MonitorModel:
        with self.lock:
            stats, self.stats = self.stats, {}
        stamp = now_text()
        return MonitorModel(
            monitor_data_list=[
                MonitorData(
                    class_name=c,
                    method_name=m,
                    total=t,
                    success=s,
                    failed=f,
                    cost=cost,
                    timestamp=stamp,
                )
                for (c, m), (t, s, f, cost) in sorted(stats.items())
            ]
        )


class MonitorCommand(EnhanceCommand):
    name = "monitor"
    summary = "Monitor calls to functions: count, successes, failures and total time per cycle"
    usage = "monitor [-E] [-c <value>] [-n <value>] class-pattern method-pattern [condition]"
    options = (
        Option("cycle", "c", "seconds per cycle", type=float, default=60.0),
        Option("before", "b", "evaluate the condition before the call", flag=True),
        Option("regex", "E", "patterns are regular expressions", flag=True),
        Option("exclude-class-pattern", help="classes (or modules) to leave out"),
        Option(
            "limits",
            "n",
            "stop after this many cycles (0: until interrupted)",
            type=non_negative_int,
            default=0,
        ),
    )
    arguments = (
        *PATTERN_ARGUMENTS,
        Argument("condition-express", "only count calls where this is true", required=False),
    )
    examples = ("monitor -c 5 demo.MathGame primeFactors",)

    def make_listener(self, ctx: CommandContext, args: ParsedArgs) -> HitListener:
        if args.cycle <= 0:
            raise CommandError("cycle must be greater than 0")
        return MonitorListener(ctx, args)

    def wait(self, ctx: CommandContext, listener: HitListener) -> None:
        assert isinstance(listener, MonitorListener)
        cycles = 0
        while not ctx.wait(listener.args.cycle):
            ctx.emit(listener.flush())
            cycles += 1
            if listener.args.limits and cycles >= listener.args.limits:
                return


def time_fragment(
    index: int, advice: Advice, timestamp: str, expand: int, size_limit: int
) -> TimeFragmentVO:
    return TimeFragmentVO(
        index=index,
        timestamp=timestamp,
        cost=advice.cost,
        is_return=advice.is_return,
        is_throw=advice.is_throw,
        object=render(advice.target, expand, size_limit) if advice.target is not None else None,
        class_name=advice.class_name,
        method_name=advice.method_name,
        params=[{"expand": expand, "object": render(p, expand, size_limit)} for p in advice.params],
        return_obj=render(advice.return_obj, expand, size_limit),
        throw_exp=render(advice.throw_exp, expand, size_limit) if advice.is_throw else None,
    )


class TimeTunnelListener(HitListener):
    def __init__(self, ctx: CommandContext, args: ParsedArgs) -> None:
        super().__init__(ctx, args, args.condition_express)
        self.first = True

    def after(self, advice: Advice) -> None:
        if not self.accept(advice):
            return
        stamp = now_text()
        index = TUNNEL.add(advice, stamp)
        fragment = time_fragment(index, advice, stamp, self.args.expand, self.args.size_limit)
        self.ctx.emit(TimeTunnelModel(time_fragment_list=[fragment], first=self.first))
        self.first = False
        self.counted()


class TimeTunnelCommand(EnhanceCommand):
    name = "tt"
    summary = "Time tunnel: record calls, list, inspect, watch and replay them"
    usage = (
        "tt -t class-pattern method-pattern [condition] | tt -l | tt -i <index> [-p | -w <express>]"
        " | tt -s <express> | tt -d <index> | tt --delete-all"
    )
    options = (
        Option("time-tunnel", "t", "record the calls of the matched functions", flag=True),
        Option("list", "l", "list the recorded calls", flag=True),
        Option("index", "i", "the record to show", type=int),
        Option("play", "p", "replay the record -i (call it again)", flag=True),
        Option("watch-express", "w", "evaluate an expression against the record -i"),
        Option("search-express", "s", "list the records where this is true"),
        Option("delete", "d", "delete the record -i", flag=True),
        Option("delete-all", help="delete every record", flag=True),
        *COMMON_OPTIONS,
        *RENDER_OPTIONS,
    )
    arguments = (
        Argument("class-pattern", "module.Class (or module) pattern", required=False),
        Argument("method-pattern", "function name pattern", required=False),
        Argument("condition-express", "only record calls where this is true", required=False),
    )
    examples = (
        "tt -t demo.MathGame primeFactors",
        "tt -l",
        "tt -i 1000",
        "tt -i 1000 -w params[0]",
        "tt -i 1000 -p",
        "tt -s 'method.__name__ == \"primeFactors\"'",
    )

    def make_listener(self, ctx: CommandContext, args: ParsedArgs) -> HitListener:
        return TimeTunnelListener(ctx, args)

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        if args.time_tunnel:
            if not args.class_pattern or not args.method_pattern:
                raise CommandError("tt -t needs a class-pattern and a method-pattern")
            super().run(ctx, args)
        elif args.delete_all:
            count = TUNNEL.clear()
            ctx.emit(MessageModel(message=f"Time fragments are cleaned, count: {count}"))
            ctx.emit(RowAffectModel(row_count=count))
        elif args.index is not None:
            self.one(ctx, args)
        elif args.list or args.search_express:
            self.list(ctx, args)
        else:
            raise CommandError("Please specify one of -t, -l, -i, -s, --delete-all")

    def list(self, ctx: CommandContext, args: ParsedArgs) -> None:
        search = compile_or_fail(args.search_express)
        fragments = []
        for index, advice, stamp in TUNNEL.items():
            if search is not None:
                try:
                    if not search(advice):
                        continue
                except Exception:
                    continue
            fragments.append(time_fragment(index, advice, stamp, args.expand, args.size_limit))
        ctx.emit(TimeTunnelModel(time_fragment_list=fragments, first=True))
        ctx.emit(RowAffectModel(row_count=len(fragments)))

    def one(self, ctx: CommandContext, args: ParsedArgs) -> None:
        record = TUNNEL.get(args.index)
        if record is None:
            raise CommandError(f"Time fragment[{args.index}] does not exist.", 1)
        advice, stamp = record
        expand, size_limit = args.expand, args.size_limit
        if args.delete:
            TUNNEL.delete(args.index)
            ctx.emit(MessageModel(message=f"Time fragment[{args.index}] was deleted."))
            ctx.emit(RowAffectModel(row_count=1))
        elif args.watch_express:
            function = compile_or_fail(args.watch_express)
            try:
                value = function(advice)
            except Exception as exc:
                raise CommandError(
                    f"watch-express failed: {type(exc).__name__}: {exc}", 1
                ) from None
            ctx.emit(
                TimeTunnelModel(
                    watch_value=render(value, expand, size_limit),
                    expand=expand,
                    size_limit=size_limit,
                )
            )
        elif args.play:
            ctx.emit(
                TimeTunnelModel(
                    replay_result=self.replayed(args.index, advice, expand, size_limit),
                    replay_no=1,
                    expand=expand,
                    size_limit=size_limit,
                )
            )
        else:
            ctx.emit(
                TimeTunnelModel(
                    time_fragment=time_fragment(args.index, advice, stamp, expand, size_limit),
                    expand=expand,
                    size_limit=size_limit,
                )
            )

    def replayed(self, index: int, advice: Advice, expand: int, size_limit: int) -> TimeFragmentVO:
        again = Advice(
            params=advice.params,
            target=advice.target,
            clazz=advice.clazz,
            method=advice.method,
            class_name=advice.class_name,
            method_name=advice.method_name,
            kind=advice.kind,
        )
        started = time.perf_counter_ns()
        try:
            again.return_obj = replay(advice)
            again.is_return = True
        except Exception as exc:
            again.throw_exp = exc
            again.is_throw = True
        again.cost = (time.perf_counter_ns() - started) / 1e6
        return time_fragment(index, again, now_text(), expand, size_limit)


class TraceListener(HitListener):
    wants_before = True

    def __init__(self, ctx: CommandContext, args: ParsedArgs) -> None:
        super().__init__(ctx, args, args.condition_express)

    def before(self, advice: Advice) -> None:
        tree = calltree.start(self, advice.method.__code__, self.args.skip_builtins)
        if tree is not None:  # None: a recursive call, part of the outer call's tree
            advice.keep(self, tree)

    def after(self, advice: Advice) -> None:
        tree = advice.kept(self)
        if not isinstance(tree, calltree.CallTree):
            return
        children = calltree.end(tree)
        if not self.accept(advice):
            return
        thread = threading.current_thread()
        cost = int(advice.cost * 1e6)
        root = MethodNode(
            class_name=advice.class_name,
            method_name=advice.method_name,
            line_number=advice.method.__code__.co_firstlineno,
            cost=cost,
            min_cost=cost,
            max_cost=cost,
            total_cost=cost,
            times=1,
            throw=True if advice.is_throw else None,
            throw_exp=type_name(advice.throw_exp) if advice.is_throw else None,
            children=children or None,
        )
        self.ctx.emit(
            TraceModel(
                root=ThreadNode(
                    thread_name=thread.name,
                    thread_id=thread.ident or 0,
                    daemon=thread.daemon,
                    timestamp=now_text(),
                    children=[root],
                ),
                node_count=2 + len(children),
            )
        )
        self.counted()


class TraceCommand(EnhanceCommand):
    name = "trace"
    summary = "Trace a function's direct calls, with the time each one took (ns)"
    usage = "trace [-E] [-n <value>] class-pattern method-pattern [condition-express]"
    options = (
        *COMMON_OPTIONS,
        Option(
            "skip-builtins",
            help="leave calls of builtins out (default true)",
            type=boolean,
            default=True,
        ),
        Option(
            "skipJDKMethod",
            help="Arthas's name for --skip-builtins",
            type=boolean,
            default=True,
            dest="skip_builtins",
        ),
    )
    arguments = (
        *PATTERN_ARGUMENTS,
        Argument(
            "condition-express", "only calls where this is true, e.g. '#cost > 10'", required=False
        ),
    )
    examples = ("trace demo.MathGame run", "trace demo.MathGame run '#cost > 1' -n 3")

    def make_listener(self, ctx: CommandContext, args: ParsedArgs) -> HitListener:
        return TraceListener(ctx, args)


__all__ = ["COMMANDS"]
COMMANDS: tuple = (WatchCommand, StackCommand, MonitorCommand, TimeTunnelCommand, TraceCommand)
