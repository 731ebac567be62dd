"""Expressions over an advice: Python with the Arthas/OGNL sugar the seed examples use.

``{a, b}`` is a list (OGNL has no set literal), ``#{"k": v}`` a dict, ``#cost`` the call's cost
in ms, ``&&`` / ``||`` mean ``and`` / ``or``. Text is compiled once. Against an
:class:`Advice` it runs as a compiled function whose advice names are attribute reads (this runs
on every call of a hooked function); against any other mapping, as one ``eval`` with the mapping
as its locals.
"""

from __future__ import annotations

import ast
import builtins
import copy
from collections.abc import Callable
from typing import Any

from livescope.instrument.advice import ADVICE_NAMES, Advice

_GLOBALS: dict[str, Any] = {"__builtins__": builtins}
_ADVICE = "__livescope_advice__"


class ExpressionError(ValueError):
    """A syntax error in a user's expression, with a message that says where."""


def _desugar(text: str) -> str:
    """Rewrite OGNL sugar outside string literals into plain Python source."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else c
            j = i + len(quote)
            while j < n and text[j : j + len(quote)] != quote:
                j += 2 if text[j] == "\\" else 1
            j = min(n, j + len(quote))
            out.append(text[i:j])
            i = j
        elif c == "#":
            i += 1  # '#{' → '{', '#name' → 'name'
        elif text.startswith("&&", i):
            out.append(" and ")
            i += 2
        elif text.startswith("||", i):
            out.append(" or ")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class _SetsToLists(ast.NodeTransformer):
    def visit_Set(self, node: ast.Set) -> ast.AST:
        self.generic_visit(node)
        return ast.copy_location(ast.List(elts=node.elts, ctx=ast.Load()), node)


class _AdviceAttributes(ast.NodeTransformer):
    """``params`` → ``__livescope_advice__.params``, ``returnObj`` → ``….return_obj``, …"""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id not in ADVICE_NAMES:
            return node
        owner = ast.Name(id=_ADVICE, ctx=ast.Load())
        return ast.copy_location(ast.Attribute(owner, ADVICE_NAMES[node.id], ast.Load()), node)


def _binds_advice_name(tree: ast.AST) -> bool:
    """True if the expression binds one of the advice names itself (a comprehension variable,
    a lambda argument, ``:=``): then it keeps the plain mapping evaluation."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            if node.id in ADVICE_NAMES:
                return True
        elif isinstance(node, ast.arg) and node.arg in ADVICE_NAMES:
            return True
    return False


def _advice_function(tree: ast.Expression) -> Callable[[Advice], Any] | None:
    if _binds_advice_name(tree):
        return None
    body = _AdviceAttributes().visit(tree).body
    arguments = ast.arguments(
        posonlyargs=[], args=[ast.arg(arg=_ADVICE)], kwonlyargs=[], kw_defaults=[], defaults=[]
    )
    function = ast.Expression(body=ast.Lambda(args=arguments, body=body))
    code = compile(ast.fix_missing_locations(function), "<expression>", "eval")
    return eval(code, _GLOBALS)  # noqa: S307 - builds the lambda; runs nothing of the user's


def compile_expression(text: str) -> Callable[[Advice], Any]:
    """Compile ``text`` once; the result evaluates it against an :class:`Advice` (or mapping).

    The result's ``on_advice`` attribute is the fastest form for an :class:`Advice` only, which
    hooks use on every call. Raises :class:`ExpressionError` for a syntax error.
    """
    source = _desugar(text.strip())
    if not source:
        raise ExpressionError("Empty expression")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"Syntax error in expression '{text}'{where}: {exc.msg}") from None
    tree = ast.fix_missing_locations(_SetsToLists().visit(tree))
    code = compile(tree, "<expression>", "eval")
    on_advice = _advice_function(copy.deepcopy(tree))

    def evaluate(advice: Any) -> Any:
        if on_advice is not None and type(advice) is Advice:
            return on_advice(advice)
        return eval(code, _GLOBALS, advice)  # noqa: S307 - the user's own diagnostic expression

    evaluate.__qualname__ = f"expression({text!r})"
    evaluate.on_advice = on_advice or evaluate  # type: ignore[attr-defined]
    return evaluate
