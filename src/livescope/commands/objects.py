"""Object inspection: vmtool (instances, forceGc, type histograms and their difference), heapdump.

Everything here walks ``gc.get_objects()``: the objects the cyclic GC tracks (instances of
Python classes, containers, functions). Atomic objects (ints, strs, floats) that are not
tracked do not appear in instance scans, histograms or dumps.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
import types
from collections import Counter
from typing import Any

from livescope.commands.base import Command, CommandContext, CommandError
from livescope.commands.code import find_classes, resolve_dotted
from livescope.commands.spec import (
    Argument,
    Option,
    ParsedArgs,
    non_negative_int,
    positive_int,
)
from livescope.express import ExpressionError, compile_expression
from livescope.model.common import MessageModel
from livescope.model.inspect import HeapDumpModel, TypeCountVO, VmToolModel
from livescope.model.render import render, type_name

MAX_SNAPSHOTS = 8
_snapshots: dict[int, dict[str, tuple[int, int]]] = {}
_snapshot_lock = threading.Lock()


def _size(obj: Any) -> int:
    try:
        return sys.getsizeof(obj)
    except Exception:  # objects with a broken __sizeof__
        return 0


def histogram() -> dict[str, tuple[int, int]]:
    """{type name: (count, summed shallow size)} of every GC-tracked object."""
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for obj in gc.get_objects():
        name = type_name(obj)
        counts[name] += 1
        sizes[name] += _size(obj)
    return {name: (counts[name], sizes[name]) for name in counts}


def store_snapshot(hist: dict[str, tuple[int, int]]) -> int:
    with _snapshot_lock:
        snapshot_id = max(_snapshots, default=0) + 1
        _snapshots[snapshot_id] = hist
        while len(_snapshots) > MAX_SNAPSHOTS:
            del _snapshots[min(_snapshots)]
    return snapshot_id


def resolve_class(name: str) -> type:
    try:
        obj = resolve_dotted(name)
    except LookupError:
        matches = find_classes(name, False) if any(c in name for c in "*?") else []
        if len(matches) != 1:
            raise CommandError(f"Can not find class by class name: {name}.", 1) from None
        obj = matches[0][1]
    if not isinstance(obj, type):
        raise CommandError(f"{name} is not a class", 1)
    return obj


class VmToolCommand(Command):
    name = "vmtool"
    summary = "Find live instances, force a GC, count objects by type"
    description = (
        "--action getInstances --className module.Class [--limit N] [--express E] [-x N]: "
        "instances of the class (and subclasses) found by scanning gc.get_objects(); value = "
        "the list rendered to depth -x, or the expression's result with the list bound to "
        "'instances'.\n"
        "--action forceGc: gc.collect() of every generation (only a status).\n"
        "--action histogram [--limit N]: objects per type (count, summed sys.getsizeof size, "
        "shallow), largest first; the counts are kept as snapshot snapshotId.\n"
        "--action diff [--snapshot ID]: histogram now minus a snapshot (the latest by default): "
        "countDelta / sizeDelta per type, biggest growth first — a leak shows as a type that "
        "keeps growing. Only GC-tracked objects count (not ints or strs). At most 8 snapshots "
        "are kept."
    )
    usage = "vmtool --action getInstances|forceGc|histogram|diff [options]"
    options = (
        Option("action", "a", "getInstances, forceGc, histogram or diff"),
        Option("className", None, "class of getInstances, module.QualName"),
        Option("limit", "l", "max instances / histogram rows", type=positive_int, default=10),
        Option("express", None, "expression over 'instances'"),
        Option("expand", "x", "depth of rendered values", type=non_negative_int, default=1),
        Option("snapshot", None, "snapshot id for diff (default: the latest)", type=positive_int),
    )
    examples = (
        "vmtool --action getInstances --className demo.MathGame --limit 5",
        "vmtool --action forceGc",
        "vmtool --action histogram",
        "vmtool --action diff",
    )

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        if not args.action:
            raise CommandError(
                "The action option is required: --action getInstances, forceGc, histogram or diff"
            )
        action = args.action.lower()
        if action == "forcegc":
            gc.collect()
        elif action == "getinstances":
            self._instances(ctx, args)
        elif action == "histogram":
            hist = histogram()
            rows = sorted(hist.items(), key=lambda kv: (-kv[1][1], kv[0]))[: args.limit]
            ctx.emit(
                VmToolModel(
                    job_id=ctx.job_id,
                    histogram=[TypeCountVO(name=n, count=c, size=s) for n, (c, s) in rows],
                    snapshot_id=store_snapshot(hist),
                    total_objects=sum(c for c, _ in hist.values()),
                )
            )
        elif action == "diff":
            self._diff(ctx, args)
        else:
            raise CommandError(
                f"Illegal action: {args.action!r}, expected getInstances, forceGc, histogram or diff"
            )

    def _instances(self, ctx: CommandContext, args: ParsedArgs) -> None:
        if not args.className:
            raise CommandError("The className option is required for getInstances")
        cls = resolve_class(args.className)
        instances = []
        for obj in gc.get_objects():
            if isinstance(obj, cls) and not isinstance(obj, type):
                instances.append(obj)
                if len(instances) >= args.limit:
                    break
        value: Any = instances
        if args.express:
            try:
                value = compile_expression(args.express)({"instances": instances})
            except ExpressionError as exc:
                raise CommandError(str(exc)) from None
            except Exception as exc:
                raise CommandError(
                    f"Failed to execute express: {type(exc).__name__}: {exc}", 1
                ) from None
        ctx.emit(VmToolModel(job_id=ctx.job_id, value=render(value, args.expand)))

    def _diff(self, ctx: CommandContext, args: ParsedArgs) -> None:
        with _snapshot_lock:
            snapshot_id = args.snapshot if args.snapshot else max(_snapshots, default=None)
            base = _snapshots.get(snapshot_id) if snapshot_id is not None else None
        if base is None:
            raise CommandError("No such snapshot: run 'vmtool --action histogram' first", 1)
        now = histogram()
        rows = []
        for name in set(now) | set(base):
            count, size = now.get(name, (0, 0))
            old_count, old_size = base.get(name, (0, 0))
            if count != old_count or size != old_size:
                rows.append(
                    TypeCountVO(
                        name=name,
                        count=count,
                        size=size,
                        count_delta=count - old_count,
                        size_delta=size - old_size,
                    )
                )
        rows.sort(key=lambda r: (-(r.count_delta or 0), -(r.size_delta or 0), r.name))
        ctx.emit(
            VmToolModel(
                job_id=ctx.job_id,
                histogram=rows[: args.limit],
                snapshot_id=snapshot_id,
                total_objects=sum(c for c, _ in now.values()),
            )
        )


def referent_ids(obj: Any) -> list[int]:
    """Ids of the objects ``obj`` refers to.

    A module is never handed to ``gc.get_referents``: that runs its extension's ``m_traverse``
    outside a collection, which some modules do not survive (a dump after ``gc.collect()`` hung
    or crashed CPython 3.12 at its next collection). Its ``__dict__`` is what a reader follows.
    """
    if isinstance(obj, types.ModuleType):
        return [id(vars(obj))]
    return [id(r) for r in gc.get_referents(obj)]


def dump_heap(path: str) -> int:
    """Write one JSON line per GC-tracked object: id, type, shallow size, referent ids."""
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for obj in gc.get_objects():
            try:
                refs = referent_ids(obj)
            except Exception:
                refs = []
            line = {"id": id(obj), "type": type_name(obj), "size": _size(obj), "refs": refs}
            out.write(json.dumps(line) + "\n")
            count += 1
    return count


class HeapDumpCommand(Command):
    name = "heapdump"
    summary = "Dump the GC-tracked objects to a file"
    description = (
        "Writes JSON lines, one per object gc.get_objects() returns: {id, type, size "
        "(sys.getsizeof, shallow), refs (ids of gc.get_referents)}. Not an hprof file: "
        "load it with any JSON tool to follow references. --live collects garbage first. "
        "Without a file the dump goes to the agent's output directory (served under "
        "/livescope-output/)."
    )
    usage = "heapdump [--live] [file]"
    options = (Option("live", None, "run a full GC before dumping", flag=True),)
    arguments = (Argument("file", "output file", required=False),)

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        path = args.file
        if not path:
            stamp = time.strftime("%Y-%m-%d-%H-%M-%S")
            path = os.path.join(ctx.agent.output_dir, f"heapdump-{stamp}.jsonl")
        path = os.path.abspath(path)
        ctx.emit(MessageModel(job_id=ctx.job_id, message=f"Dumping heap to {path} ..."))
        if args.live:
            gc.collect()
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            dump_heap(path)
        except OSError as exc:
            raise CommandError(f"Heap dump failed: {exc}") from None
        ctx.emit(MessageModel(job_id=ctx.job_id, message="Heap dump file created"))
        ctx.emit(HeapDumpModel(job_id=ctx.job_id, dump_file=path, live=bool(args.live)))


COMMANDS = (VmToolCommand, HeapDumpCommand)
