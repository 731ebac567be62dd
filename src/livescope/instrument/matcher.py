"""``class-pattern method-pattern`` → the functions to hook, found across ``sys.modules``.

A class pattern matches ``module.QualName`` of a class, or a module's name for its module-level
functions. Wildcard patterns (``*``, ``?``) may be ``|``-joined; ``regex=True`` takes Python
regular expressions (full match). livescope's own modules are never matched; the standard
library only with ``unsafe``. Decorated functions are unwrapped through ``__wrapped__`` so the
code that really runs is the one hooked; behind a decorator made without ``functools.wraps``,
the function of the member's name is looked for in the wrapper's closure, and where it is not
there the shared wrapper is hooked and marked so (every function it wraps then shows).
"""

from __future__ import annotations

import fnmatch
import inspect
import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"__future__", "_distutils_hack"}


@dataclass(frozen=True)
class MethodRef:
    """One hookable function: where it lives, what kind of member it is, and its real code."""

    class_name: str  # "module.Class" or "module"
    method_name: str
    function: types.FunctionType  # the unwrapped function whose code runs
    owner: Any  # the class or module holding it
    attr: str  # attribute name in the owner
    kind: str  # "function", "method", "staticmethod", "classmethod", "property"
    clazz: type | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def code(self) -> types.CodeType:
        return self.function.__code__

    @property
    def has_target(self) -> bool:
        """True when the first argument is ``self``/``cls`` (Arthas' ``target``, not a param)."""
        return self.kind in ("method", "classmethod", "property")


def compile_pattern(pattern: str, regex: bool) -> Callable[[str], bool]:
    """A predicate for one class or method pattern."""
    if regex:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"Invalid regular expression '{pattern}': {exc}") from None
        return lambda name: compiled.fullmatch(name) is not None
    parts = [p for p in pattern.split("|") if p]
    if parts == ["*"]:
        return lambda name: True
    return lambda name: any(fnmatch.fnmatchcase(name, p) for p in parts)


def unwrap(func: Any) -> types.FunctionType | None:
    """The innermost plain function behind ``functools.wraps`` chains, or None."""
    seen = set()
    while hasattr(func, "__wrapped__") and id(func) not in seen:
        seen.add(id(func))
        func = func.__wrapped__
    return func if isinstance(func, types.FunctionType) else None


def _closed_over(func: types.FunctionType, name: str) -> types.FunctionType | None:
    """The function named ``name`` that ``func``, a decorator's closure made without
    ``functools.wraps``, calls: found in its closure cells, through further such layers."""
    seen: set[int] = set()
    while id(func) not in seen:
        seen.add(id(func))
        inner = None
        for cell in func.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            candidate = unwrap(value) if callable(value) else None
            if candidate is not None and candidate is not func:
                inner = candidate
                if candidate.__name__ == name:
                    return candidate
        if inner is None or not inner.__closure__:
            return None
        func = inner
    return None


def shared_wrapper(func: types.FunctionType, name: str) -> bool:
    """Whether ``func``, found under the member ``name``, is a closure of another name (a
    decorator without ``functools.wraps``): its code then runs for every function it wraps."""
    return func.__name__ != name and "<locals>" in func.__qualname__


def _skip_module(name: str, unsafe: bool) -> bool:
    if name == "livescope" or name.startswith("livescope."):
        return True
    top = name.partition(".")[0]
    return not unsafe and (top in _STDLIB or top in sys.builtin_module_names)


def _members(owner: Any, mapping: dict) -> Iterator[tuple[str, str, Any]]:
    """(attr, kind, function) for every hookable member of a class or module dict."""
    is_class = isinstance(owner, type)
    for attr, value in list(mapping.items()):
        if isinstance(value, staticmethod):
            yield attr, "staticmethod", value.__func__
        elif isinstance(value, classmethod):
            yield attr, "classmethod", value.__func__
        elif isinstance(value, property):
            for accessor in (value.fget, value.fset, value.fdel):
                if accessor is not None:
                    yield attr, "property", accessor
        elif inspect.isfunction(value) or hasattr(value, "__wrapped__"):
            yield attr, "method" if is_class else "function", value


def _classes(module: types.ModuleType, mod_name: str) -> Iterator[type]:
    stack = [
        v
        for v in list(vars(module).values())
        if isinstance(v, type) and getattr(v, "__module__", None) == mod_name
    ]
    seen: set[int] = set()
    while stack:
        cls = stack.pop()
        if id(cls) in seen:
            continue
        seen.add(id(cls))
        yield cls
        stack.extend(
            v
            for v in list(vars(cls).values())
            if isinstance(v, type) and getattr(v, "__module__", None) == mod_name
        )


def find_methods(
    class_pattern: str,
    method_pattern: str,
    *,
    regex: bool = False,
    exclude_class_pattern: str | None = None,
    unsafe: bool = False,
) -> list[MethodRef]:
    """Every function matching the patterns, each code object once."""
    class_ok = compile_pattern(class_pattern, regex)
    method_ok = compile_pattern(method_pattern, regex)
    excluded = compile_pattern(exclude_class_pattern, regex) if exclude_class_pattern else None
    found: list[MethodRef] = []
    seen_code: set[int] = set()

    def consider(class_name: str, owner: Any, mapping: dict, clazz: type | None) -> None:
        if not class_ok(class_name) or (excluded and excluded(class_name)):
            return
        for attr, kind, value in _members(owner, mapping):
            func = unwrap(value)
            if func is None or not method_ok(attr):
                continue
            if clazz is None and getattr(value, "__module__", None) != owner.__name__:
                continue  # imported from elsewhere: matched under its own module
            extra = {}
            if shared_wrapper(func, attr):
                original = _closed_over(func, attr)
                if original is not None:
                    func = original  # the decorated function itself, reached through cells
                else:
                    extra["shared_wrapper"] = func.__qualname__
            if id(func.__code__) in seen_code:
                continue
            seen_code.add(id(func.__code__))
            found.append(MethodRef(class_name, attr, func, owner, attr, kind, clazz, extra))

    for mod_name, module in list(sys.modules.items()):
        if not isinstance(module, types.ModuleType) or _skip_module(mod_name, unsafe):
            continue
        try:
            namespace = vars(module)
        except TypeError:
            continue
        consider(mod_name, module, namespace, None)
        for cls in _classes(module, mod_name):
            consider(f"{mod_name}.{cls.__qualname__}", cls, vars(cls), cls)
    return found
