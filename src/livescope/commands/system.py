"""Process-level views: memory, dashboard, pyvm (Arthas ``jvm``), perfcounter and vmoption.

Memory figures come from ``/proc/self/status`` (Linux); where it is missing they read -1.
"""

from __future__ import annotations

import gc
import os
import platform
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from livescope.commands.base import Command, CommandContext, CommandError
from livescope.commands.spec import Argument, Option, ParsedArgs
from livescope.commands.threads import cpu_ticks, live_threads, thread_vo
from livescope.model.inspect import (
    ChangeResultVO,
    DashboardModel,
    GcInfoVO,
    JvmItemVO,
    JvmModel,
    MemoryEntryVO,
    MemoryModel,
    PerfCounterModel,
    PerfCounterVO,
    RuntimeInfoVO,
    VMOptionModel,
    VMOptionVO,
)

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_status() -> dict[str, int]:
    """The ``kB`` lines of /proc/self/status, in bytes."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if len(parts) == 2 and parts[1] == "kB":
                    out[key] = int(parts[0]) * 1024
    except OSError:
        pass
    return out


def memory_info() -> dict[str, list[MemoryEntryVO]]:
    """Arthas' heap / nonheap / buffer_pool groups, filled with what a Python process has."""
    st = proc_status()

    def entry(kind: str, name: str, used: int, total: int, limit: int = -1) -> MemoryEntryVO:
        return MemoryEntryVO(type=kind, name=name, used=used, total=total, max=limit)

    anon, data = st.get("RssAnon", -1), st.get("VmData", -1)
    heap = [entry("heap", "heap", anon, data)]
    if tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        heap.append(entry("heap", "tracemalloc", current, peak))
    file_backed = st.get("RssFile", 0) + st.get("RssShmem", 0) if st else -1
    nonheap = [
        entry("nonheap", "nonheap", file_backed, st.get("VmSize", -1)),
        entry("nonheap", "stack", st.get("VmStk", -1), st.get("VmStk", -1)),
    ]
    buffers = [
        entry("buffer_pool", "rss", st.get("VmRSS", -1), st.get("VmHWM", -1)),
        entry("buffer_pool", "swap", st.get("VmSwap", -1), st.get("VmSwap", -1)),
    ]
    return {"heap": heap, "nonheap": nonheap, "buffer_pool": buffers}


class GcTimer:
    """Measures time spent in each GC generation while installed (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.ms = [0.0, 0.0, 0.0]
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        elif self._start:
            gen = info.get("generation", 0)
            if 0 <= gen < len(self.ms):
                self.ms[gen] += (time.perf_counter() - self._start) * 1000
            self._start = 0.0

    def install(self, ctx: CommandContext) -> None:
        gc.callbacks.append(self)
        ctx.on_stop(self.remove)

    def remove(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)


def gc_infos(timer: GcTimer | None = None) -> list[GcInfoVO]:
    stats, counts, thresholds = gc.get_stats(), gc.get_count(), gc.get_threshold()
    out = []
    for gen, stat in enumerate(stats):
        out.append(
            GcInfoVO(
                name=f"gen{gen}",
                collection_count=stat.get("collections", 0),
                collection_time=int(timer.ms[gen]) if timer else 0,
                collected=stat.get("collected", 0),
                uncollectable=stat.get("uncollectable", 0),
                threshold=thresholds[gen] if gen < len(thresholds) else None,
                pending=counts[gen] if gen < len(counts) else None,
            )
        )
    return out


def process_start_time() -> float:
    """Epoch seconds when this process started (from /proc), or the agent module load time."""
    try:
        with open("/proc/self/stat", "rb") as f:
            start_ticks = int(f.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            boot_uptime = float(f.read().split()[0])
        return time.time() - boot_uptime + start_ticks / _CLK_TCK
    except (OSError, IndexError, ValueError):
        return _LOADED_AT


_LOADED_AT = time.time()


def runtime_info() -> RuntimeInfoVO:
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = -1.0
    now = time.time()
    return RuntimeInfoVO(
        os_name=platform.system(),
        os_version=platform.release(),
        java_version=platform.python_version(),
        java_home=sys.prefix,
        system_load_average=load,
        processors=os.cpu_count() or 1,
        uptime=int((now - process_start_time()) * 1000),
        timestamp=int(now * 1000),
        python_version=sys.version,
        python_implementation=platform.python_implementation(),
        executable=sys.executable,
    )


MEMORY_DESCRIPTION = (
    "memoryInfo groups, in Python terms (bytes, -1 = unknown):\n"
    "heap/heap: used = RssAnon (resident anonymous memory: Python objects and malloc), "
    "total = VmData (the data segment the process reserved).\n"
    "heap/tracemalloc (only while tracemalloc traces): used = traced bytes now, total = traced peak.\n"
    "nonheap/nonheap: used = RssFile+RssShmem (resident code, mapped files), total = VmSize.\n"
    "nonheap/stack: the main thread's stack (VmStk).\n"
    "buffer_pool/rss: used = VmRSS (all resident memory), total = VmHWM (peak RSS).\n"
    "buffer_pool/swap: VmSwap.\n"
)


class MemoryCommand(Command):
    name = "memory"
    summary = "Display process memory info"
    description = MEMORY_DESCRIPTION
    usage = "memory"

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        ctx.emit(MemoryModel(job_id=ctx.job_id, memory_info=memory_info()))


class DashboardCommand(Command):
    name = "dashboard"
    summary = "Overview of the process: threads, memory, GC, runtime"
    description = (
        "Repeats every -i ms (default 5000) until interrupted or -n times.\n"
        "threads: ThreadVO as in 'thread' (cpu over the last interval).\n"
        "memoryInfo: as in 'memory'.\n"
        "gcInfos: one per GC generation (gen0..gen2): collectionCount = collections so far, "
        "collectionTime = ms spent in it while this dashboard runs, collected/uncollectable "
        "objects, threshold and pending (objects allocated since the last collection).\n"
        "runtimeInfo: javaVersion = Python version, javaHome = sys.prefix, uptime = ms since "
        "the process started, plus pythonVersion, pythonImplementation, executable."
    )
    usage = "dashboard [-i ms] [-n times]"
    options = (
        Option("interval", "i", "interval between refreshes in ms", type=int, default=5000),
        Option("number-of-execution", "n", "number of refreshes", type=int),
    )

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        if args.interval <= 0:
            raise CommandError("interval must be > 0 ms")
        limit = args.number_of_execution
        if limit is not None and limit <= 0:
            raise CommandError("number-of-execution must be > 0")
        timer = GcTimer()
        timer.install(ctx)
        previous: dict[int, int | None] = {t.id: cpu_ticks(t.id) for t in live_threads()}
        last = time.monotonic()
        ctx.wait(0.1)
        done = 0
        while not ctx.interrupted:
            threads = live_threads()
            now = time.monotonic()
            ticks = {t.id: cpu_ticks(t.id) for t in threads}
            sample = _sample(previous, ticks, now - last)
            previous, last = ticks, now
            ctx.emit(
                DashboardModel(
                    job_id=ctx.job_id,
                    threads=sorted((thread_vo(t, sample) for t in threads), key=lambda v: -v.cpu),
                    memory_info=memory_info(),
                    gc_infos=gc_infos(timer),
                    runtime_info=runtime_info(),
                )
            )
            done += 1
            if limit is not None and done >= limit:
                raise CommandError(f"Process ends after {done} time(s).", 0)
            if ctx.wait(args.interval / 1000):
                return


def _sample(before: dict, after: dict, elapsed: float) -> dict:
    out = {}
    for tid, now in after.items():
        first = before.get(tid)
        if now is None:
            out[tid] = (0.0, 0, 0)
            continue
        delta = (now - first) * 1000 // _CLK_TCK if first is not None else 0
        cpu = min(100.0, round(100.0 * delta / 1000 / max(elapsed, 1e-6), 2))
        out[tid] = (cpu, int(delta), int(now * 1000 // _CLK_TCK))
    return out


def _fd_count() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1


def _fd_limit() -> int:
    try:
        import resource

        return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return -1


def jvm_info() -> dict[str, list[JvmItemVO]]:
    def items(*pairs: tuple[str, Any] | tuple[str, Any, str]) -> list[JvmItemVO]:
        return [JvmItemVO(name=p[0], value=p[1], desc=p[2] if len(p) > 2 else None) for p in pairs]

    threads = threading.enumerate()
    st = proc_status()
    flags = {name: getattr(sys.flags, name) for name in dir(sys.flags) if not name.startswith("_")}
    flags = {k: v for k, v in flags.items() if isinstance(v, (int, bool, str))}
    return {
        "RUNTIME": items(
            ("IMPLEMENTATION", platform.python_implementation()),
            ("VERSION", sys.version),
            ("BUILD", " ".join(platform.python_build())),
            ("COMPILER", platform.python_compiler()),
            ("EXECUTABLE", sys.executable),
            ("PREFIX", sys.prefix),
            ("ARGV", list(sys.argv)),
            ("PID", os.getpid()),
            ("START-TIME", int(process_start_time() * 1000), "epoch ms"),
            ("UPTIME", int((time.time() - process_start_time()) * 1000), "ms"),
            ("FLAGS", flags, "sys.flags"),
            ("SYS-PATH", list(sys.path)),
            ("GIL-ENABLED", getattr(sys, "_is_gil_enabled", lambda: True)()),
        ),
        "CLASS-LOADING": items(("LOADED-MODULE-COUNT", len(sys.modules), "len(sys.modules)")),
        "GARBAGE-COLLECTORS": [
            JvmItemVO(name=info.name, value=info, desc="collections so far; time unmeasured")
            for info in gc_infos()
        ],
        "MEMORY": items(
            ("RSS", st.get("VmRSS", -1), "bytes"),
            ("PEAK-RSS", st.get("VmHWM", -1), "bytes"),
            ("GC-ENABLED", gc.isenabled()),
            ("GC-THRESHOLD", list(gc.get_threshold())),
            ("GC-TRACKED-OBJECTS", len(gc.get_objects()), "objects the cyclic GC tracks"),
            ("TRACEMALLOC", tracemalloc.is_tracing()),
        ),
        "OPERATING-SYSTEM": items(
            ("OS", platform.system()),
            ("ARCH", platform.machine()),
            ("PROCESSORS-COUNT", os.cpu_count() or 1),
            ("LOAD-AVERAGE", runtime_info().system_load_average),
            ("VERSION", platform.release()),
        ),
        "THREAD": items(
            ("COUNT", len(threads)),
            ("DAEMON-COUNT", sum(1 for t in threads if t.daemon)),
            ("PYTHON-FRAME-COUNT", len(sys._current_frames()), "threads with a Python frame"),
            ("SWITCH-INTERVAL", sys.getswitchinterval(), "seconds"),
        ),
        "FILE-DESCRIPTOR": items(
            ("MAX-FILE-DESCRIPTOR-COUNT", _fd_limit()),
            ("OPEN-FILE-DESCRIPTOR-COUNT", _fd_count()),
        ),
    }


class PyvmCommand(Command):
    name = "pyvm"
    summary = "Display the interpreter's runtime information"
    description = (
        "Emits result type 'jvm' (jvmInfo: group -> [{name, value, desc}]) so Arthas clients "
        "show it unchanged. RUNTIME: interpreter, version, build, compiler, flags, sys.path; "
        "CLASS-LOADING: imported module count; GARBAGE-COLLECTORS: per generation; MEMORY: RSS, "
        "peak RSS, GC thresholds and tracked objects; THREAD: counts and switch interval; "
        "FILE-DESCRIPTOR: open and maximum file descriptors."
    )
    usage = "pyvm"

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        ctx.emit(JvmModel(job_id=ctx.job_id, jvm_info=jvm_info()))


class JvmCommand(PyvmCommand):
    name = "jvm"
    summary = "Alias of pyvm, for Arthas habits"


def _proc_counters(path: str) -> dict[str, int]:
    """``key value`` or ``key: value`` lines of a /proc file, as integers where they are."""
    out: dict[str, int] = {}
    try:
        with open(path) as f:
            for line in f:
                key, _, rest = line.replace(":", " ", 1).partition(" ")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    out[key] = int(parts[0])
    except OSError:
        pass
    return out


def perf_counters() -> list[PerfCounterVO]:
    """The process's counters under Arthas's perfcounter shape: name, units, variability
    (Constant, Monotonic: only grows, Variable), value."""
    import resource  # late: an idle agent does not need it

    usage = resource.getrusage(resource.RUSAGE_SELF)
    status = proc_status()
    io = _proc_counters("/proc/self/io")
    rows: list[tuple[str, str, str, Any]] = [
        ("python.pid", "None", "Constant", os.getpid()),
        ("python.uptime", "Ticks", "Monotonic", int((time.time() - process_start_time()) * 1000)),
        ("process.cpu.user", "Ticks", "Monotonic", int(usage.ru_utime * 1000)),
        ("process.cpu.system", "Ticks", "Monotonic", int(usage.ru_stime * 1000)),
        ("process.rss", "Bytes", "Variable", status.get("VmRSS", -1)),
        ("process.rss.peak", "Bytes", "Monotonic", status.get("VmHWM", usage.ru_maxrss * 1024)),
        ("process.pageFaults.minor", "Events", "Monotonic", usage.ru_minflt),
        ("process.pageFaults.major", "Events", "Monotonic", usage.ru_majflt),
        ("process.contextSwitches.voluntary", "Events", "Monotonic", usage.ru_nvcsw),
        ("process.contextSwitches.involuntary", "Events", "Monotonic", usage.ru_nivcsw),
        ("process.io.readBytes", "Bytes", "Monotonic", io.get("read_bytes", -1)),
        ("process.io.writeBytes", "Bytes", "Monotonic", io.get("write_bytes", -1)),
        ("process.fd.open", "Events", "Variable", _fd_count()),
        ("python.threads.live", "Events", "Variable", threading.active_count()),
        ("python.modules.loaded", "Events", "Variable", len(sys.modules)),
        ("python.allocatedBlocks", "Events", "Variable", sys.getallocatedblocks()),
    ]
    for generation, stats in enumerate(gc.get_stats()):
        rows.append(
            (f"python.gc.gen{generation}.collections", "Events", "Monotonic", stats["collections"])
        )
        rows.append(
            (f"python.gc.gen{generation}.collected", "Events", "Monotonic", stats["collected"])
        )
    return [PerfCounterVO(name=n, units=u, variability=v, value=x) for n, u, v, x in rows]


class PerfCounterCommand(Command):
    name = "perfcounter"
    summary = "Display the process's performance counters"
    description = (
        "Counters of the process and the interpreter (Arthas shows the JVM's perf counters): "
        "CPU ms in user and system mode, RSS and its peak, page faults, context switches, bytes "
        "read and written (/proc/self/io), open file descriptors, live threads, loaded modules, "
        "allocated memory blocks and each GC generation's collections and collected objects. "
        "-d adds units (Ticks = ms, Bytes, Events, None) and variability (Constant, Monotonic, "
        "Variable)."
    )
    usage = "perfcounter [-d]"
    options = (Option("details", "d", "print units and variability", flag=True),)

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        counters = perf_counters()
        if not args.details:
            counters = [PerfCounterVO(name=c.name, value=c.value) for c in counters]
        ctx.emit(PerfCounterModel(job_id=ctx.job_id, perf_counters=counters))


def _set_threshold(index: int) -> Callable[[str], None]:
    def setter(raw: str) -> None:
        values = list(gc.get_threshold())
        values[index] = int(raw)
        if values[index] < 0:
            raise ValueError("a threshold must be >= 0 (0 disables automatic collection)")
        gc.set_threshold(*values)

    return setter


def _set_gc_enabled(raw: str) -> None:
    if raw.lower() not in ("true", "false"):
        raise ValueError("expected true or false")
    (gc.enable if raw.lower() == "true" else gc.disable)()


def _set_tracemalloc(raw: str) -> None:
    frames = int(raw)
    if frames <= 0:
        tracemalloc.stop()
    elif not tracemalloc.is_tracing():
        tracemalloc.start(frames)


# name -> (getter, setter or None)
VM_OPTIONS: dict[str, tuple[Callable[[], Any], Callable[[str], None] | None]] = {
    "gc.threshold0": (lambda: gc.get_threshold()[0], _set_threshold(0)),
    "gc.threshold1": (lambda: gc.get_threshold()[1], _set_threshold(1)),
    "gc.threshold2": (lambda: gc.get_threshold()[2], _set_threshold(2)),
    "gc.enabled": (gc.isenabled, _set_gc_enabled),
    "sys.switchinterval": (sys.getswitchinterval, lambda raw: sys.setswitchinterval(float(raw))),
    "sys.recursionlimit": (sys.getrecursionlimit, lambda raw: sys.setrecursionlimit(int(raw))),
    "tracemalloc": (
        lambda: tracemalloc.get_traceback_limit() if tracemalloc.is_tracing() else 0,
        _set_tracemalloc,
    ),
}
if hasattr(sys, "get_int_max_str_digits"):
    VM_OPTIONS["sys.int_max_str_digits"] = (
        sys.get_int_max_str_digits,
        lambda raw: sys.set_int_max_str_digits(int(raw)),
    )
for _flag in ("optimize", "dont_write_bytecode", "utf8_mode", "dev_mode", "isolated"):
    if hasattr(sys.flags, _flag):
        VM_OPTIONS[f"sys.flags.{_flag}"] = ((lambda f=_flag: getattr(sys.flags, f)), None)


def _option_vo(name: str) -> VMOptionVO:
    getter, setter = VM_OPTIONS[name]
    value = getter()
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return VMOptionVO(name=name, value=text, origin="DEFAULT", writeable=setter is not None)


class VmOptionCommand(Command):
    name = "vmoption"
    summary = "Display, and update the interpreter's tunable options"
    description = (
        "Options: gc.threshold0/1/2 (gc.set_threshold), gc.enabled, sys.switchinterval "
        "(seconds between GIL switches), sys.recursionlimit, sys.int_max_str_digits, "
        "tracemalloc (frames traced; 0 = off, N > 0 starts tracing), and read-only sys.flags.*. "
        "origin is always DEFAULT (Python does not record who set a value)."
    )
    usage = "vmoption [name] [value]"
    arguments = (
        Argument("name", "option name", required=False),
        Argument("value", "new value", required=False),
    )
    examples = ("vmoption", "vmoption gc.threshold0", "vmoption sys.switchinterval 0.001")

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        if args.name is None:
            options = [_option_vo(name) for name in sorted(VM_OPTIONS)]
            ctx.emit(VMOptionModel(job_id=ctx.job_id, vm_options=options))
            return
        if args.name not in VM_OPTIONS:
            raise CommandError(f"Invalid VM option name: {args.name}")
        if args.value is None:
            ctx.emit(VMOptionModel(job_id=ctx.job_id, vm_options=[_option_vo(args.name)]))
            return
        getter, setter = VM_OPTIONS[args.name]
        if setter is None:
            raise CommandError(f"VM option {args.name} is not writeable")
        before = getter()
        try:
            setter(args.value)
        except (ValueError, OverflowError, RecursionError) as exc:
            raise CommandError(f"Cannot set {args.name} to {args.value}: {exc}") from None
        change = ChangeResultVO(name=args.name, before_value=before, after_value=getter())
        ctx.emit(VMOptionModel(job_id=ctx.job_id, change_result=change))


COMMANDS = (
    MemoryCommand,
    DashboardCommand,
    PyvmCommand,
    JvmCommand,
    PerfCounterCommand,
    VmOptionCommand,
)
