"""Code inspection: sc, sm, jad, dump, getstatic, ognl, redefine.

Classes are named ``module.QualName``; a module counts as a "class" for jad/getstatic (its
module-level functions and globals). A class's defining module plays the part of its class
loader: ``module@hash``, where the hash (a CRC of the module name, so the same in every run)
is what ``-c`` takes, as Arthas's ``-c`` takes a class loader's hash code. Patterns use ``*``/``?`` wildcards (``|`` joins several) or,
with ``-E``, Python regular expressions matched against the whole name.
"""

from __future__ import annotations

import dis
import inspect
import io
import linecache
import os
import sys
import threading
import types
import zlib
from collections.abc import Iterator
from typing import Any

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
from livescope.instrument.matcher import compile_pattern, find_methods, unwrap
from livescope.model.common import RowAffectModel
from livescope.model.inspect import (
    ClassDetailVO,
    ClassVO,
    DumpedClassVO,
    DumpModel,
    FieldVO,
    GetStaticModel,
    JadModel,
    MethodVO,
    OgnlModel,
    RedefineModel,
    SearchClassModel,
    SearchMethodModel,
)
from livescope.model.render import render, type_name

NAMES_PER_ITEM = 256


def class_name(cls: type) -> str:
    module = getattr(cls, "__module__", None) or "builtins"
    return f"{module}.{cls.__qualname__}"


def loader_hash(module: str) -> str:
    """The stand-in for a class loader's hash code: eight hex digits of the module's name."""
    return f"{zlib.crc32(module.encode()):08x}"


def loader_label(module: str) -> str:
    return f"{module}@{loader_hash(module)}"


def module_by_hash(code: str) -> types.ModuleType:
    """The loaded module whose ``loader_hash`` is ``code`` (the value of a ``-c`` option)."""
    for name, module in list(sys.modules.items()):
        if isinstance(module, types.ModuleType) and loader_hash(name) == code.strip().lower():
            return module
    raise CommandError(f"Can not find classloader with hashcode: {code}.")


def loader_option(summary: str) -> Option:
    return Option("classloader", "c", summary, metavar="HASH")


def all_classes() -> Iterator[tuple[str, type]]:
    """Every class defined in a loaded module (nested classes too), each once."""
    seen: set[int] = set()
    for mod_name, module in list(sys.modules.items()):
        if not isinstance(module, types.ModuleType):
            continue
        try:
            stack = list(vars(module).values())
        except TypeError:
            continue
        while stack:
            value = stack.pop()
            if not isinstance(value, type) or id(value) in seen:
                continue
            if getattr(value, "__module__", None) != mod_name:
                continue
            seen.add(id(value))
            yield class_name(value), value
            stack.extend(list(vars(value).values()))


def find_classes(pattern: str, regex: bool) -> list[tuple[str, type]]:
    try:
        match = compile_pattern(pattern, regex)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return sorted(((n, c) for n, c in all_classes() if match(n)), key=lambda item: item[0])


def _source_file(obj: Any) -> str | None:
    try:
        return inspect.getsourcefile(obj) or inspect.getfile(obj)
    except (TypeError, OSError):
        return None


def _field_vo(owner: Any, name: str, value: Any, expand: int) -> FieldVO:
    return FieldVO(
        name=name,
        type=type_name(value),
        modifier="public" if not name.startswith("_") else "private",
        value=render(value, expand),
        static=True,
    )


def _methods(cls: type) -> list[str]:
    out = []
    for attr, value in vars(cls).items():
        func = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
        if inspect.isfunction(func) or isinstance(value, property):
            out.append(attr)
    return sorted(out)


def class_detail(cls: type, with_fields: bool, expand: int) -> ClassDetailVO:
    qualname = cls.__qualname__
    bases = [class_name(b) for b in cls.__bases__]
    fields = None
    if with_fields:
        fields = [
            _field_vo(cls, k, v, expand)
            for k, v in vars(cls).items()
            if not k.startswith("__")
            and not inspect.isfunction(v)
            and not isinstance(v, (staticmethod, classmethod, property, type))
        ]
    return ClassDetailVO(
        name=class_name(cls),
        classloader=[loader_label(cls.__module__)],
        class_loader_hash=loader_hash(cls.__module__),
        class_info=class_name(cls),
        code_source=_source_file(cls),
        interface=inspect.isabstract(cls),
        annotation=False,
        enum=any(b.__name__ == "Enum" and b.__module__ == "enum" for b in cls.__mro__),
        anonymous_class=False,
        local_class="<locals>" in qualname,
        member_class="." in qualname.replace(".<locals>", ""),
        primitive=cls.__module__ == "builtins",
        simple_name=cls.__name__,
        modifier="abstract" if inspect.isabstract(cls) else "public",
        annotations=[],
        interfaces=[],
        super_class=bases,
        mro=[class_name(c) for c in cls.__mro__[1:]],
        methods=_methods(cls),
        fields=fields,
    )


class ScCommand(Command):
    name = "sc"
    summary = "Search all the classes loaded by the interpreter"
    description = (
        "Classes are named module.QualName. Without -d: classNames in items of at most 256 "
        "(segment = item index), then row_affect with the number found.\n"
        "-d: one item per class with classInfo: classloader = [defining module@hash], "
        "classLoaderHash = that hash (-c HASH keeps only that module's classes), codeSource = "
        "source file, superClass = the direct bases, mro = the rest of the MRO, methods = "
        "functions, static/class methods and properties defined in the class body, "
        "interface = abstract (ABC with abstract methods), enum = an enum.Enum subclass, "
        "memberClass = nested class, localClass = defined inside a function, primitive = a "
        "builtin type. -f adds fields: the class attributes that are not methods, each "
        "value rendered to depth -x."
    )
    usage = "sc [-d] [-f] [-E] [-x N] [-n limit] [-c hash] class-pattern"
    options = (
        loader_option("only classes of the module with this hash (classLoaderHash)"),
        Option("details", "d", "show class details", flag=True),
        Option("field", "f", "show class attributes (with -d)", flag=True),
        Option("regex", "E", "patterns are regular expressions", flag=True),
        Option("expand", "x", "depth of rendered field values", type=non_negative_int, default=0),
        Option("limits", "n", "max classes shown with -d", type=positive_int, default=100),
    )
    arguments = (Argument("class-pattern", "module.QualName pattern"),)
    examples = ("sc demo.*", "sc -d demo.MathGame", "sc -d -f demo.MathGame")

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        found = find_classes(args.class_pattern, args.regex)
        if args.classloader is not None:
            module = module_by_hash(args.classloader).__name__
            found = [(n, c) for n, c in found if c.__module__ == module]
        if args.details:
            if len(found) > args.limits:
                raise CommandError(
                    f"The number of matching classes is greater than : {args.limits}. "
                    "Please specify a more accurate 'class-patten' or use the parameter '-n' "
                    "to change the maximum number of matching classes."
                )
            for _, cls in found:
                detail = class_detail(cls, args.field, args.expand)
                ctx.emit(
                    SearchClassModel(
                        job_id=ctx.job_id, class_info=detail, detailed=True, with_field=args.field
                    )
                )
        else:
            names = [n for n, _ in found]
            for segment, start in enumerate(range(0, len(names), NAMES_PER_ITEM)):
                ctx.emit(
                    SearchClassModel(
                        job_id=ctx.job_id,
                        class_names=names[start : start + NAMES_PER_ITEM],
                        segment=segment,
                    )
                )
        ctx.emit(RowAffectModel(job_id=ctx.job_id, row_count=len(found)))


def _annotation(value: Any) -> str:
    if value is inspect.Parameter.empty:
        return "object"
    return value if isinstance(value, str) else getattr(value, "__qualname__", repr(value))


def method_vo(ref: Any) -> MethodVO:
    func = ref.function
    try:
        sig = inspect.signature(func)
        params = [str(p) for p in sig.parameters.values()]
        returns = _annotation(sig.return_annotation)
        descriptor = str(sig)
    except (TypeError, ValueError):
        params, returns, descriptor = [], "object", "(...)"
    modifier = {"function": "public", "method": "public"}.get(ref.kind, ref.kind)
    if inspect.iscoroutinefunction(func):
        modifier += ",async"
    return MethodVO(
        declaring_class=ref.class_name,
        method_name=ref.method_name,
        modifier=modifier,
        annotations=[],
        parameters=params,
        return_type=returns,
        exceptions=[],
        class_loader_hash=loader_hash(func.__module__ or "builtins"),
        constructor=ref.method_name == "__init__",
        descriptor=descriptor,
        file_name=func.__code__.co_filename,
        line_number=func.__code__.co_firstlineno,
    )


class SmCommand(Command):
    name = "sm"
    summary = "Search the methods of loaded classes"
    description = (
        "One item per function: declaringClass = module.Class (or the module for module-level "
        "functions), parameters = inspect.signature parameters as written, returnType = the "
        "return annotation (object when absent), descriptor = the full signature, modifier = "
        "public / staticmethod / classmethod / property (plus ',async' for coroutines), "
        "constructor = __init__, fileName/lineNumber = where the code is. exceptions and "
        "annotations are always empty. livescope's own code is not listed."
    )
    usage = "sm [-d] [-E] [-c hash] class-pattern [method-pattern]"
    options = (
        loader_option("only functions of the module with this hash (classLoaderHash)"),
        Option("details", "d", "show details", flag=True),
        Option("regex", "E", "patterns are regular expressions", flag=True),
        Option("limits", "n", "max methods shown", type=positive_int, default=100),
    )
    arguments = (
        Argument("class-pattern", "module.QualName pattern"),
        Argument("method-pattern", "method name pattern", required=False, default="*"),
    )

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        try:
            refs = find_methods(
                args.class_pattern, args.method_pattern, regex=args.regex, unsafe=True
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if args.classloader is not None:
            module = module_by_hash(args.classloader).__name__
            refs = [r for r in refs if r.function.__module__ == module]
        refs.sort(key=lambda r: (r.class_name, r.method_name))
        for ref in refs[: args.limits]:
            ctx.emit(
                SearchMethodModel(
                    job_id=ctx.job_id, method_info=method_vo(ref), detail=args.details
                )
            )
        ctx.emit(RowAffectModel(job_id=ctx.job_id, row_count=min(len(refs), args.limits)))


# --- resolving a dotted name to a live object ------------------------------------------------


def resolve_dotted(name: str) -> Any:
    """The object a dotted ``module.attr.attr`` name denotes (longest loaded module prefix)."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is None:
            continue
        obj: Any = module
        try:
            for attr in parts[cut:]:
                obj = inspect.getattr_static(obj, attr)
        except AttributeError:
            continue
        return obj
    raise LookupError(name)


def _targets(pattern: str, regex: bool) -> list[tuple[str, Any]]:
    """Objects for jad/getstatic: exact dotted names first, then matching classes."""
    if not regex and not any(c in pattern for c in "*?|"):
        try:
            return [(pattern, resolve_dotted(pattern))]
        except LookupError:
            return []
    return find_classes(pattern, regex)


def _class_vo(name: str, obj: Any) -> ClassVO:
    module = getattr(obj, "__module__", None) or getattr(obj, "__name__", None)
    if not isinstance(module, str):
        return ClassVO(name=name)
    return ClassVO(
        name=name, classloader=[loader_label(module)], class_loader_hash=loader_hash(module)
    )


def _stale(obj: Any, path: str | None) -> str | None:
    """Why the file on disk may not be what runs, or None when it is the same."""
    if not path or not os.path.exists(path):
        return "the source file no longer exists" if path else None
    module = sys.modules.get(getattr(obj, "__module__", None) or getattr(obj, "__name__", ""))
    loaded_from = getattr(getattr(module, "__spec__", None), "origin", None)
    cached = getattr(module, "__cached__", None)
    fresh_cache = cached and os.path.exists(cached)
    if (
        loaded_from == path
        and fresh_cache
        and os.path.getmtime(path) > os.path.getmtime(cached) + 1
    ):
        return "the file changed on disk after its bytecode was compiled"
    func = unwrap(obj) if not isinstance(obj, (type, types.ModuleType)) else None
    if func is not None:
        try:
            fresh = compile("".join(linecache.getlines(path)), path, "exec")
        except SyntaxError:
            return "the file on disk does not compile"
        if not any(
            c.co_name == func.__code__.co_name and c.co_code == func.__code__.co_code
            for c in _walk_codes(fresh)
        ):
            return "the function's running bytecode differs from the file on disk"
    return None


def _walk_codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _walk_codes(const)


def _disassembly(obj: Any) -> str:
    out = io.StringIO()
    target = unwrap(obj) or obj
    dis.dis(target, file=out)
    return out.getvalue()


def loaded_source(name: str, obj: Any) -> tuple[list[str], int, str]:
    """``(lines, first line number, kind)``: the source as the process read it (kind
    'source'), else a bytecode listing (kind 'bytecode', first line 0)."""
    try:
        lines, first = inspect.getsourcelines(unwrap(obj) or obj)
        return lines, max(first, 1), "source"
    except (TypeError, OSError):
        pass
    try:
        return _disassembly(obj).splitlines(keepends=True), 0, "bytecode"
    except TypeError:
        raise CommandError(f"{name} has neither source nor bytecode") from None


class JadCommand(Command):
    name = "jad"
    summary = "Show the source of a loaded class, module or function"
    description = (
        "source: the source as loaded, from inspect.getsource (through linecache, so it is the "
        "file as first read by the process). location = the source file; mappings = "
        "{line in the shown text: line in the file}. sourceKind = 'source', or 'bytecode' when "
        "there is no source (a dis listing is shown instead). stale = true with staleReason "
        "when the file on disk differs from what runs (changed after compile, or a function's "
        "running bytecode no longer matches the file, e.g. after redefine). Several matches "
        "⇒ matchedClasses and status -1."
    )
    usage = "jad [-E] [--source-only] [--lineNumber true|false] name"
    options = (
        Option("regex", "E", "pattern is a regular expression", flag=True),
        Option("source-only", None, "only the source text", flag=True),
        Option("lineNumber", None, "prefix lines with their numbers", type=boolean, default=True),
    )
    arguments = (Argument("class-pattern", "module, module.Class or module.function"),)

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        found = _targets(args.class_pattern, args.regex)
        if not found:
            raise CommandError(f"No class found for: {args.class_pattern}")
        if len(found) > 1:
            ctx.emit(
                JadModel(job_id=ctx.job_id, matched_classes=[_class_vo(n, o) for n, o in found])
            )
            raise CommandError(
                f"Found more than one class for: {args.class_pattern}, Please use a more "
                "accurate pattern."
            )
        name, obj = found[0]
        obj = obj.__func__ if isinstance(obj, (staticmethod, classmethod)) else obj
        path = _source_file(obj)
        lines, first, kind = loaded_source(name, obj)
        mappings = None
        if kind == "source" and args.lineNumber:
            text = "".join(f"/*{first + i:>4}*/ {line}" for i, line in enumerate(lines))
        else:
            text = "".join(lines)
        if kind == "source":
            mappings = {i + 1: first + i for i in range(len(lines))}
        if args.source_only:
            ctx.emit(JadModel(job_id=ctx.job_id, source=text))
            return
        reason = _stale(obj, path)
        ctx.emit(
            JadModel(
                job_id=ctx.job_id,
                class_info=_class_vo(name, obj),
                location=path,
                source=text,
                mappings=mappings,
                source_kind=kind,
                stale=reason is not None,
                stale_reason=reason,
            )
        )
        ctx.emit(RowAffectModel(job_id=ctx.job_id, row_count=1))


class DumpCommand(Command):
    name = "dump"
    summary = "Write the loaded source of classes to files"
    description = (
        "For each class matched: its source as the process loaded it (a bytecode listing "
        "when there is none) is written to DIR/<module>/<QualName>.py (.dis for a listing); "
        "DIR is -d or classdump/ in the agent's output directory (served under "
        "/livescope-output/). dumpedClasses: name, classloader, classLoaderHash, location = "
        "the file written. Arthas writes .class bytes; a Python class has no bytes of its own, "
        "its source is what can be read back."
    )
    usage = "dump [-E] [-c hash] [-d dir] [-l limit] class-pattern"
    options = (
        Option("regex", "E", "pattern is a regular expression", flag=True),
        loader_option("only classes of the module with this hash (classLoaderHash)"),
        Option("directory", "d", "where to write the files"),
        Option("limit", "l", "max classes dumped", type=positive_int, default=50),
    )
    arguments = (Argument("class-pattern", "module.QualName pattern"),)
    examples = ("dump demo.MathGame", "dump -d /tmp/src 'demo.*'")

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        found = find_classes(args.class_pattern, args.regex)
        if args.classloader is not None:
            module = module_by_hash(args.classloader).__name__
            found = [(n, c) for n, c in found if c.__module__ == module]
        if not found:
            raise CommandError(f"No class found for: {args.class_pattern}")
        if len(found) > args.limit:
            raise CommandError(
                f"The number of matching classes is greater than : {args.limit}. Please "
                "specify a more accurate 'class-patten' or use the parameter '-l' to change "
                "the maximum number of matching classes."
            )
        root = os.path.abspath(args.directory or os.path.join(ctx.agent.output_dir, "classdump"))
        dumped = []
        for name, cls in found:
            lines, _, kind = loaded_source(name, cls)
            suffix = ".py" if kind == "source" else ".dis"
            path = os.path.join(root, cls.__module__, cls.__qualname__ + suffix)
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as f:
                    f.writelines(lines)
            except OSError as exc:
                raise CommandError(f"dump: cannot write {path}: {exc.strerror}") from None
            vo = _class_vo(name, cls)
            dumped.append(
                DumpedClassVO(
                    name=name,
                    classloader=vo.classloader,
                    class_loader_hash=vo.class_loader_hash,
                    location=path,
                )
            )
        ctx.emit(DumpModel(job_id=ctx.job_id, dumped_classes=dumped))
        ctx.emit(RowAffectModel(job_id=ctx.job_id, row_count=len(dumped)))


def _evaluate(text: str, scope: dict[str, Any]) -> Any:
    try:
        expression = compile_expression(text)
    except ExpressionError as exc:
        raise CommandError(str(exc)) from None
    return expression(scope)


class GetStaticCommand(Command):
    name = "getstatic"
    summary = "Show the value of a module global or class attribute"
    description = (
        "getstatic module.Class attr (or getstatic module attr) ⇒ fieldName and field (the "
        "value rendered as structured JSON to depth -x). An optional expression is evaluated "
        "with the value as 'target' (e.g. \"target['key']\", \"len(target)\"). Several "
        "matching classes ⇒ matchedClasses and status -1."
    )
    usage = "getstatic [-x N] [-E] class-pattern field-name [express]"
    options = (
        Option("expand", "x", "depth of the rendered value", type=non_negative_int, default=1),
        Option("regex", "E", "pattern is a regular expression", flag=True),
    )
    arguments = (
        Argument("class-pattern", "module or module.Class"),
        Argument("field-name", "attribute name"),
        Argument("express", "expression over 'target'", required=False),
    )

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        found = _targets(args.class_pattern, args.regex)
        if not found:
            raise CommandError(f"No class found for: {args.class_pattern}", 1)
        if len(found) > 1:
            matched = [_class_vo(n, o) for n, o in found]
            ctx.emit(GetStaticModel(job_id=ctx.job_id, matched_classes=matched))
            raise CommandError(f"Found more than one class for: {args.class_pattern}", -1)
        _, owner = found[0]
        try:
            value = inspect.getattr_static(owner, args.field_name)
        except AttributeError:
            raise CommandError(
                f"There is no field named {args.field_name} in {args.class_pattern}", 1
            ) from None
        if args.express:
            try:
                value = _evaluate(args.express, {"target": value, "clazz": owner})
            except CommandError:
                raise
            except Exception as exc:
                raise CommandError(
                    f"Failed to execute express: {type(exc).__name__}: {exc}", 1
                ) from None
        ctx.emit(
            GetStaticModel(
                job_id=ctx.job_id, field_name=args.field_name, field=render(value, args.expand)
            )
        )
        ctx.emit(RowAffectModel(job_id=ctx.job_id, row_count=1))


class OgnlCommand(Command):
    name = "ognl"
    summary = "Evaluate a Python expression in the process"
    description = (
        "The expression is Python with the OGNL sugar of watch ({a, b} is a list, #{...} a "
        "dict, && and ||). Names resolve to loaded modules first (demo.MathGame), then "
        "builtins; 'threads' is threading.enumerate(). -c HASH (a classLoaderHash of sc) or "
        "--classLoaderClass MODULE evaluates in that module's namespace, so its globals are "
        "names. value = the result rendered as "
        "structured JSON to depth -x (default 1). Errors ⇒ status -1 'Failed to execute "
        "ognl, exception message: ...'."
    )
    usage = "ognl [-x N] [-c hash | --classLoaderClass module] express"
    options = (
        Option("expand", "x", "depth of the rendered value", type=non_negative_int, default=1),
        loader_option("evaluate in the namespace of the module with this hash"),
        Option("classLoaderClass", None, "evaluate in the namespace of this module"),
    )
    arguments = (Argument("express", "a Python expression"),)
    examples = ("ognl 'sys.version'", "ognl -x 2 'demo.MathGame.__dict__'")

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        scope = _ModuleScope(self._namespace(args))
        scope["threads"] = threading.enumerate()
        try:
            value = _evaluate(args.express, scope)
        except CommandError as exc:
            raise CommandError(
                f"Failed to execute ognl, exception message: {exc.message}"
            ) from None
        except Exception as exc:
            raise CommandError(
                f"Failed to execute ognl, exception message: {type(exc).__name__}: {exc}"
            ) from None
        ctx.emit(OgnlModel(job_id=ctx.job_id, value=render(value, args.expand)))

    @staticmethod
    def _namespace(args: ParsedArgs) -> dict[str, Any]:
        if args.classloader is not None:
            return dict(vars(module_by_hash(args.classloader)))
        if args.classLoaderClass is not None:
            module = sys.modules.get(args.classLoaderClass)
            if not isinstance(module, types.ModuleType):
                raise CommandError(
                    f"Can not find classloader by class name: {args.classLoaderClass}."
                )
            return dict(vars(module))
        return {}


class _ModuleScope(dict):
    """A locals mapping where a top-level name is also a loaded module (``sys``, ``demo``)."""

    def __missing__(self, key: str) -> Any:
        module = sys.modules.get(key)
        if module is None:
            raise KeyError(key)
        return module


# --- redefine: swap a function's code at run time --------------------------------------------

_REDEFINED: dict[str, tuple[types.FunctionType, types.CodeType]] = {}
_REDEFINE_LOCK = threading.Lock()


def _compile_function(source: str, func: types.FunctionType) -> types.CodeType:
    namespace: dict[str, Any] = {}
    code = compile(source, func.__code__.co_filename, "exec")
    exec(code, dict(func.__globals__), namespace)  # noqa: S102 - the user's own replacement
    new = namespace.get(func.__name__)
    new = new.__func__ if isinstance(new, (staticmethod, classmethod)) else new
    if not isinstance(new, types.FunctionType):
        raise CommandError(f"The source does not define a function named {func.__name__}")
    if new.__code__.co_freevars != func.__code__.co_freevars:
        raise CommandError("The new function must use the same closure variables as the old one")
    return new.__code__


class RedefineCommand(Command):
    name = "redefine"
    summary = "Replace a function's code at run time (revertible)"
    description = (
        "redefine module.Class.method 'def method(self, ...): ...' replaces the function's "
        "__code__ with the new source, so every reference to it (aliases, bound methods) runs "
        "the new code from the next call on; calls already running finish the old code. "
        "-l lists redefined functions, -r NAME reverts one, --reset-all reverts all. "
        "redefinedClasses lists the names changed; redefined = [{name, file, line}]."
    )
    usage = "redefine [-l] [-r name] [--reset-all] [name source]"
    options = (
        Option("list", "l", "list redefined functions", flag=True),
        Option("revert", "r", "restore the original code of this function"),
        Option("reset-all", None, "restore every redefined function", flag=True),
    )
    arguments = (
        Argument("name", "module.function or module.Class.method", required=False),
        Argument("source", "the new def statement", required=False),
    )

    def run(self, ctx: CommandContext, args: ParsedArgs) -> None:
        with _REDEFINE_LOCK:
            if args.list:
                changed = sorted(_REDEFINED)
            elif args.revert or args.reset_all:
                names = sorted(_REDEFINED) if args.reset_all else [args.revert]
                if args.revert and args.revert not in _REDEFINED:
                    raise CommandError(f"{args.revert} is not redefined", 1)
                for name in names:
                    func, original = _REDEFINED.pop(name)
                    func.__code__ = original
                changed = names
            else:
                if not args.name or not args.source:
                    raise CommandError("redefine needs a function name and its new source")
                changed = [self._redefine(args.name, args.source)]
        entries = []
        for name in changed:
            func = _REDEFINED[name][0] if name in _REDEFINED else None
            code = func.__code__ if func else None
            entries.append(
                {
                    "name": name,
                    "file": code.co_filename if code else None,
                    "line": code.co_firstlineno if code else None,
                }
            )
        ctx.emit(
            RedefineModel(
                job_id=ctx.job_id,
                redefinition_count=len(changed),
                redefined_classes=changed,
                redefined=entries,
            )
        )

    def _redefine(self, name: str, source: str) -> str:
        try:
            target = resolve_dotted(name)
        except LookupError:
            raise CommandError(f"No function found for: {name}", 1) from None
        target = target.__func__ if isinstance(target, (staticmethod, classmethod)) else target
        func = unwrap(target)
        if func is None:
            raise CommandError(f"{name} is not a Python function", 1)
        try:
            code = _compile_function(source, func)
        except SyntaxError as exc:
            raise CommandError(
                f"Syntax error in new source: {exc.msg} (line {exc.lineno})"
            ) from None
        _REDEFINED.setdefault(name, (func, func.__code__))
        func.__code__ = code
        return name


class RetransformCommand(RedefineCommand):
    name = "retransform"
    summary = "Alias of redefine, for Arthas habits (Python has no class files to retransform)"


COMMANDS = (
    ScCommand,
    SmCommand,
    JadCommand,
    DumpCommand,
    GetStaticCommand,
    OgnlCommand,
    RedefineCommand,
    RetransformCommand,
)
