"""The 3.10/3.11 backend: swap every reference to a hooked function for a wrapper, put it back.

The wrapper is made with ``functools.wraps`` (same name, qualname, docstring, ``__wrapped__``
and therefore the same ``inspect.signature``). References are replaced in the owning class or
module and in every other module namespace that holds the same function object (``from m import f``
aliases, found with ``gc.get_referrers``) and in closure cells (a decorator made without
``functools.wraps`` calls the function through one); uninstalling restores exactly the original
objects.
Generators and coroutines get a generator/coroutine wrapper so the call is timed to its end.
Known limit: references held elsewhere (lists, bound methods made earlier, C objects such as
``functools.partial``) keep calling the original.
"""

from __future__ import annotations

import functools
import gc
import inspect
import sys
import threading
import types
from typing import Any

from livescope.instrument import engine
from livescope.instrument.matcher import unwrap

_lock = threading.Lock()
_installed: dict[Any, list[tuple[dict, str, Any]]] = {}  # code -> [(dict, key, original)]


def _split(entry: engine.Entry, signature: inspect.Signature, args: tuple, kwargs: dict) -> tuple:
    """(params, target) as sys.monitoring sees them: every parameter, defaults included."""
    try:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values: list[Any] = []
        for param in signature.parameters.values():
            value = bound.arguments.get(param.name)
            if param.kind is param.VAR_POSITIONAL:
                values.extend(value or ())
            else:
                values.append(value)
    except TypeError:  # the call itself is wrong; it will raise the same error
        values = [*args, *kwargs.values()]
    if entry.ref.has_target and values:
        return tuple(values[1:]), values[0]
    return tuple(values), None


def _make_wrapper(entry: engine.Entry, func: Any) -> Any:
    signature = inspect.signature(func)

    def enter(args: tuple, kwargs: dict) -> tuple | None:  # None: this call is not watched
        if not entry.listeners or engine.suppressed():
            return None
        return engine.call_enter(entry, *_split(entry, signature, args, kwargs))

    if inspect.iscoroutinefunction(func):

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            state = enter(args, kwargs)
            if state is None:
                return await func(*args, **kwargs)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                engine.call_exit(state, None, exc)
                raise
            engine.call_exit(state, result, None)
            return result

    elif inspect.isgeneratorfunction(func):

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            state = enter(args, kwargs)
            if state is None:
                return (yield from func(*args, **kwargs))
            try:
                result = yield from func(*args, **kwargs)
            except BaseException as exc:
                engine.call_exit(state, None, exc)
                raise
            engine.call_exit(state, result, None)
            return result

    else:

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            state = enter(args, kwargs)
            if state is None:
                return func(*args, **kwargs)
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                engine.call_exit(state, None, exc)
                raise
            engine.call_exit(state, result, None)
            return result

    functools.update_wrapper(wrapper, func)
    wrapper.__livescope_original__ = func  # type: ignore[attr-defined]
    return wrapper


def _rewrap(member: Any, old: Any, new: Any) -> Any:
    """The class-dict member with function ``old`` swapped for ``new`` (decorators kept)."""
    if member is old:
        return new
    if isinstance(member, staticmethod) and member.__func__ is old:
        return staticmethod(new)
    if isinstance(member, classmethod) and member.__func__ is old:
        return classmethod(new)
    if isinstance(member, property):
        accessors = [new if f is old else f for f in (member.fget, member.fset, member.fdel)]
        return property(*accessors, member.__doc__)
    return member


def install(entry: engine.Entry) -> None:
    ref = entry.ref
    owner_dict = ref.owner.__dict__
    member = owner_dict.get(ref.attr)
    # The object actually called: the member itself when decorated, else its function.
    if isinstance(member, property):
        candidates = [member.fget, member.fset, member.fdel]
    else:
        candidates = [getattr(member, "__func__", member)]
    called = next(
        (f for f in candidates if f is not None and unwrap(f) is ref.function), ref.function
    )
    wrapper = _make_wrapper(entry, called)
    replaced: list[tuple[Any, str, Any]] = []  # (class or dict, name, original)
    new_member = _rewrap(member, called, wrapper)
    if new_member is not member:
        if isinstance(ref.owner, type):
            type.__setattr__(ref.owner, ref.attr, new_member)
            replaced.append((ref.owner, ref.attr, member))
        else:
            owner_dict[ref.attr] = new_member
            replaced.append((owner_dict, ref.attr, member))
    # After the owner is patched, a module namespace still holding the function is an alias,
    # and a closure cell holding it is a decorator's (or a callback's) reference to it.
    namespaces = {id(getattr(m, "__dict__", None)) for m in list(sys.modules.values())}
    own_cells = {id(cell) for cell in wrapper.__closure__ or ()}  # the wrapper calls the original
    for holder in gc.get_referrers(called):
        if isinstance(holder, dict) and id(holder) in namespaces:
            for key, value in list(holder.items()):
                if value is called and isinstance(key, str):
                    holder[key] = wrapper
                    replaced.append((holder, key, called))
        elif (
            isinstance(holder, types.CellType)
            and id(holder) not in own_cells
            and holder.cell_contents is called
        ):
            holder.cell_contents = wrapper
            replaced.append((holder, "", called))
    with _lock:
        _installed[ref.code] = replaced


def uninstall(entry: engine.Entry) -> None:
    with _lock:
        replaced = _installed.pop(entry.ref.code, [])
    for holder, key, original in reversed(replaced):
        if isinstance(holder, type):
            type.__setattr__(holder, key, original)
        elif isinstance(holder, types.CellType):
            holder.cell_contents = original
        else:
            holder[key] = original


def shutdown() -> None:
    """Nothing global to release: every reference was restored by :func:`uninstall`."""
