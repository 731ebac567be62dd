"""Live objects → JSON-ready data, as watch/tt/ognl values: depth-limited, cycle-safe, bounded.

``expand`` is Arthas' ``-x``: containers and objects are opened ``expand`` levels below the
value itself (the value's own items are always shown); deeper ones become a one-line summary
such as ``"@list[isEmpty=false;size=3]"``. Exceptions render as Arthas' throwable JSON with a
``stackTrace`` (innermost frame first, as Java prints it). Output beyond ``size_limit``
characters is replaced by Arthas' size-limit message.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
from typing import Any

DEFAULT_SIZE_LIMIT = 10 * 1024 * 1024
_SCALARS = (str, int, float, bool, type(None))


class _TooBig(Exception):
    pass


def type_name(obj: Any) -> str:
    """``module.QualName`` of an object's type (builtins without the module)."""
    cls = type(obj)
    module = getattr(cls, "__module__", "builtins")
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def frame_class_name(frame: types.FrameType) -> str:
    """Arthas' ``className`` of a frame: ``module.Class`` for methods, the module otherwise."""
    module = frame.f_globals.get("__name__", "?")
    code = frame.f_code
    qualname = getattr(code, "co_qualname", None)
    if qualname is not None:
        owner = qualname.rpartition(".")[0].replace(".<locals>", "")
        return f"{module}.{owner}" if owner else module
    args = code.co_varnames[: code.co_argcount]
    if args and args[0] in ("self", "cls"):
        first = frame.f_locals.get(args[0])
        cls = first if isinstance(first, type) else type(first)
        return f"{module}.{cls.__qualname__}"
    return module


def stack_element(frame: types.FrameType, lineno: int | None = None) -> dict[str, Any]:
    """One Java-style StackTraceElement of a Python frame."""
    return {
        "className": frame_class_name(frame),
        "methodName": frame.f_code.co_name,
        "fileName": frame.f_code.co_filename,
        "lineNumber": lineno if lineno is not None else (frame.f_lineno or 0),
        "nativeMethod": False,
    }


def exception_stack(exc: BaseException) -> list[dict[str, Any]]:
    """The exception's traceback as StackTraceElements, innermost first, then its callers."""
    elements = []
    tb = exc.__traceback__
    outermost = tb.tb_frame if tb is not None else None
    while tb is not None:
        elements.append(stack_element(tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    elements.reverse()
    # While the exception is still propagating its traceback ends at the current frame; the
    # callers still on the stack complete it, as a Java stack trace would show them.
    caller = outermost.f_back if outermost is not None else None
    while caller is not None:
        if not caller.f_globals.get("__name__", "").startswith("livescope"):
            elements.append(stack_element(caller))
        caller = caller.f_back
    return elements


def exception_message(exc: BaseException) -> str | None:
    try:
        text = str(exc)
    except Exception:  # a broken __str__ must not break the hook
        return None
    return text or None


def summary(obj: Any) -> str:
    """A one-line description, used for values below the depth limit."""
    name = type_name(obj)
    try:
        size = len(obj)
    except Exception:
        size = None
    if size is not None and isinstance(obj, (list, tuple, set, frozenset, dict)):
        return f"@{name}[isEmpty={'true' if size == 0 else 'false'};size={size}]"
    return f"@{name}[{safe_repr(obj)}]"


def safe_repr(obj: Any, limit: int = 200) -> str:
    try:
        text = repr(obj)
    except Exception as exc:
        text = f"<{type_name(obj)} repr failed: {type(exc).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Renderer:
    def __init__(self, expand: int, size_limit: int) -> None:
        self.expand = max(expand, 0)
        self.budget = size_limit
        self.path: set[int] = set()

    def charge(self, n: int) -> None:
        self.budget -= n
        if self.budget < 0:
            raise _TooBig

    def scalar(self, obj: Any) -> Any:
        if isinstance(obj, str):
            self.charge(len(obj) + 2)
            return obj
        if isinstance(obj, float) and not math.isfinite(obj):
            self.charge(4)
            return str(obj)
        if isinstance(obj, int) and not isinstance(obj, bool) and abs(obj) >= 2**63:
            self.charge(20)
            return str(obj)
        self.charge(5)
        return obj

    def render(self, obj: Any, depth: int) -> Any:
        if isinstance(obj, _SCALARS) and not isinstance(obj, enum.Enum):
            return self.scalar(obj)
        if isinstance(obj, BaseException):
            return self.exception(obj)
        if isinstance(obj, enum.Enum):
            return self.scalar(obj.name)
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return self.scalar(safe_repr(bytes(obj), 10_000))
        if id(obj) in self.path:
            return self.scalar(f"@{type_name(obj)}[cycle]")
        if depth > self.expand:
            return self.scalar(summary(obj))
        self.path.add(id(obj))
        try:
            return self.container(obj, depth)
        finally:
            self.path.discard(id(obj))

    def container(self, obj: Any, depth: int) -> Any:
        if isinstance(obj, dict):
            self.charge(2)
            return {str(k): self.render(v, depth + 1) for k, v in list(obj.items())}
        if isinstance(obj, (list, tuple, set, frozenset, range)):
            self.charge(2)
            return [self.render(v, depth + 1) for v in list(obj)]
        if isinstance(obj, (types.FunctionType, types.MethodType, types.ModuleType, type)):
            return self.scalar(safe_repr(obj))
        fields = _fields(obj)
        if fields is None:
            return self.scalar(safe_repr(obj))
        out: dict[str, Any] = {"@type": type_name(obj)}
        for name, value in fields.items():
            out[name] = self.render(value, depth + 1)
        return out

    def exception(self, exc: BaseException) -> dict[str, Any]:
        message = exception_message(exc)
        out: dict[str, Any] = {"@type": type_name(exc)}
        if message is not None:
            out["message"] = self.scalar(message)
            out["localizedMessage"] = message
        out["stackTrace"] = exception_stack(exc)
        self.charge(120 * len(out["stackTrace"]))
        cause = exc.__cause__ or exc.__context__
        if cause is not None and id(cause) not in self.path:
            self.path.add(id(exc))
            try:
                out["cause"] = self.exception(cause)
            finally:
                self.path.discard(id(exc))
        return out


def _fields(obj: Any) -> dict[str, Any] | None:
    """An instance's own state (``__dict__``, ``__slots__``, dataclass fields); no properties."""
    if dataclasses.is_dataclass(obj):
        return {f.name: getattr(obj, f.name, None) for f in dataclasses.fields(obj)}
    state = getattr(obj, "__dict__", None)
    slots = [
        slot
        for cls in type(obj).__mro__
        for slot in _as_tuple(cls.__dict__.get("__slots__", ()))
        if slot not in ("__dict__", "__weakref__")
    ]
    if not isinstance(state, dict) and not slots:
        return None
    result = dict(state) if isinstance(state, dict) else {}
    for slot in slots:
        if hasattr(obj, slot):
            result[slot] = getattr(obj, slot)
    return result


def _as_tuple(slots: Any) -> tuple[str, ...]:
    return (slots,) if isinstance(slots, str) else tuple(slots)


def size_limit_message(size_limit: int) -> str:
    return (
        f"Object size exceeds size limit: {size_limit}, try to specify -M size_limit in your "
        "command, check the help command for more."
    )


def render(obj: Any, expand: int = 1, size_limit: int = DEFAULT_SIZE_LIMIT) -> Any:
    """JSON-ready form of ``obj`` with depth ``expand`` (Arthas ``-x``) and a size bound."""
    renderer = _Renderer(expand, size_limit)
    try:
        return renderer.render(obj, 0)
    except _TooBig:
        return size_limit_message(size_limit)
