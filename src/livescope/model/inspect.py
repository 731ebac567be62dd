"""Result models of the runtime-inspection commands (thread, memory, dashboard, sc, jad, ...).

Field names follow the Arthas result models so Arthas API clients read them unchanged; what each
field means for a Python process is written in the owning command's ``description``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from livescope.model.base import ResultModel, json_field

THREAD_STATES = ("NEW", "RUNNABLE", "BLOCKED", "WAITING", "TIMED_WAITING", "TERMINATED")


@dataclass(kw_only=True)
class ThreadVO:
    id: int
    name: str
    group: str = "main"
    priority: int = 5
    state: str = "RUNNABLE"
    cpu: float = 0.0
    delta_time: int = 0
    time: int = 0
    interrupted: bool = False
    daemon: bool = False


@dataclass(kw_only=True)
class BusyThreadInfo(ThreadVO):
    """A ThreadVO with the thread's stack and, when known, the lock it waits for."""

    blocked_time: int = -1
    blocked_count: int = 0
    waited_time: int = -1
    waited_count: int = 0
    lock_name: str | None = None
    lock_owner_id: int = -1
    lock_owner_name: str | None = None
    in_native: bool = False
    suspended: bool = False
    stack_trace: list[dict[str, Any]] | None = None


@dataclass(kw_only=True)
class ThreadInfo:
    """java.lang.management.ThreadInfo, as far as a Python thread has its properties."""

    thread_id: int
    thread_name: str
    thread_state: str
    daemon: bool = False
    priority: int = 5
    blocked_time: int = -1
    blocked_count: int = 0
    waited_time: int = -1
    waited_count: int = 0
    lock_name: str | None = None
    lock_owner_id: int = -1
    lock_owner_name: str | None = None
    in_native: bool = False
    suspended: bool = False
    stack_trace: list[dict[str, Any]] | None = None


@dataclass(kw_only=True)
class BlockingLockInfo:
    thread_info: ThreadInfo
    lock_identity_hash_code: int
    blocking_thread_count: int


@dataclass(kw_only=True)
class AsyncTaskVO:
    """One asyncio task of a running event loop (livescope addition, ``thread --tasks``)."""

    name: str
    state: str
    coroutine: str
    loop_thread_id: int | None = None
    stack_trace: list[dict[str, Any]] | None = None


@dataclass(kw_only=True)
class ThreadModel(ResultModel):
    type = "thread"
    thread_info: ThreadInfo | None = None
    blocking_lock_info: BlockingLockInfo | None = None
    busy_threads: list[BusyThreadInfo] | None = None
    thread_stats: list[ThreadVO] | None = None
    thread_state_count: dict[str, int] | None = None
    all: bool | None = None
    tasks: list[AsyncTaskVO] | None = None


@dataclass(kw_only=True)
class MemoryEntryVO:
    type: str
    name: str
    used: int
    total: int
    max: int


@dataclass(kw_only=True)
class MemoryModel(ResultModel):
    type = "memory"
    memory_info: dict[str, list[MemoryEntryVO]]


@dataclass(kw_only=True)
class GcInfoVO:
    name: str
    collection_count: int
    collection_time: int = 0
    collected: int | None = None
    uncollectable: int | None = None
    threshold: int | None = None
    pending: int | None = None


@dataclass(kw_only=True)
class RuntimeInfoVO:
    os_name: str
    os_version: str
    java_version: str
    java_home: str
    system_load_average: float
    processors: int
    uptime: int
    timestamp: int
    python_version: str | None = None
    python_implementation: str | None = None
    executable: str | None = None


@dataclass(kw_only=True)
class DashboardModel(ResultModel):
    type = "dashboard"
    threads: list[ThreadVO]
    memory_info: dict[str, list[MemoryEntryVO]]
    gc_infos: list[GcInfoVO]
    runtime_info: RuntimeInfoVO


@dataclass(kw_only=True)
class JvmItemVO:
    name: str
    value: Any
    desc: str | None = None


@dataclass(kw_only=True)
class PerfCounterVO:
    name: str
    value: Any
    units: str | None = None
    variability: str | None = None


@dataclass(kw_only=True)
class PerfCounterModel(ResultModel):
    type = "perfcounter"
    perf_counters: list[PerfCounterVO]


@dataclass(kw_only=True)
class JvmModel(ResultModel):
    type = "jvm"
    jvm_info: dict[str, list[JvmItemVO]]


@dataclass(kw_only=True)
class VMOptionVO:
    name: str
    value: str
    origin: str
    writeable: bool


@dataclass(kw_only=True)
class ChangeResultVO:
    name: str
    before_value: Any
    after_value: Any


@dataclass(kw_only=True)
class VMOptionModel(ResultModel):
    type = "vmoption"
    vm_options: list[VMOptionVO] | None = None
    change_result: ChangeResultVO | None = None


@dataclass(kw_only=True)
class ClassVO:
    name: str
    classloader: list[str] | None = None
    class_loader_hash: str | None = None


@dataclass(kw_only=True)
class FieldVO:
    name: str
    type: str
    modifier: str
    value: Any = None
    annotations: list[str] | None = None
    static: bool = True


@dataclass(kw_only=True)
class ClassDetailVO(ClassVO):
    class_info: str
    code_source: str | None = None
    interface: bool = False
    annotation: bool = False
    enum: bool = False
    anonymous_class: bool = False
    array: bool = False
    local_class: bool = False
    member_class: bool = False
    primitive: bool = False
    synthetic: bool = False
    simple_name: str = ""
    modifier: str = ""
    annotations: list[str] | None = None
    interfaces: list[str] | None = None
    super_class: list[str] | None = None
    mro: list[str] | None = None
    methods: list[str] | None = None
    fields: list[FieldVO] | None = None


@dataclass(kw_only=True)
class SearchClassModel(ResultModel):
    type = "sc"
    class_info: ClassDetailVO | None = None
    class_names: list[str] | None = None
    segment: int | None = None
    detailed: bool = False
    with_field: bool = False


@dataclass(kw_only=True)
class MethodVO:
    declaring_class: str
    method_name: str
    modifier: str
    annotations: list[str]
    parameters: list[str]
    return_type: str
    exceptions: list[str]
    class_loader_hash: str | None = None
    constructor: bool = False
    descriptor: str = ""
    file_name: str | None = None
    line_number: int | None = None


@dataclass(kw_only=True)
class SearchMethodModel(ResultModel):
    type = "sm"
    method_info: MethodVO
    detail: bool = False


@dataclass(kw_only=True)
class JadModel(ResultModel):
    type = "jad"
    class_info: ClassVO | None = None
    location: str | None = None
    source: str | None = None
    mappings: dict[int, int] | None = None
    matched_classes: list[ClassVO] | None = None
    source_kind: str | None = None
    stale: bool | None = None
    stale_reason: str | None = None


@dataclass(kw_only=True)
class DumpedClassVO(ClassVO):
    location: str


@dataclass(kw_only=True)
class DumpModel(ResultModel):
    type = "dump"
    dumped_classes: list[DumpedClassVO]


@dataclass(kw_only=True)
class GetStaticModel(ResultModel):
    type = "getstatic"
    field: Any = None
    field_name: str | None = None
    matched_classes: list[ClassVO] | None = None


@dataclass(kw_only=True)
class OgnlModel(ResultModel):
    type = "ognl"
    value: Any = None


@dataclass(kw_only=True)
class TypeCountVO:
    """Objects of one type: how many, and their summed shallow size (sys.getsizeof)."""

    name: str
    count: int
    size: int
    count_delta: int | None = None
    size_delta: int | None = None


@dataclass(kw_only=True)
class VmToolModel(ResultModel):
    type = "vmtool"
    value: Any = None
    histogram: list[TypeCountVO] | None = None
    snapshot_id: int | None = None
    total_objects: int | None = None


@dataclass(kw_only=True)
class HeapDumpModel(ResultModel):
    type = "heapdump"
    dump_file: str
    live: bool = True


@dataclass(kw_only=True)
class LoggerModel(ResultModel):
    type = "logger"
    logger_info_map: dict[str, dict[str, Any]]


@dataclass(kw_only=True)
class RedefineModel(ResultModel):
    type = "redefine"
    redefinition_count: int
    redefined_classes: list[str]
    redefined: list[dict[str, Any]] | None = json_field("redefined")


@dataclass(kw_only=True)
class ProfilerModel(ResultModel):
    type = "profiler"
    action: str
    action_arg: str | None = None
    format: str | None = None
    supported_actions: list[str] | None = None
    execute_result: str | None = None
    output_file: str | None = None
    duration: int | None = None
    samples: int | None = None
