"""Expressions over an advice: Python with the Arthas/OGNL sugar the seed examples use.

``{a, b}`` is a list (OGNL has no set literal), ``#{"k": v}`` a dict, ``#cost`` the call's cost
in ms, ``&&`` / ``||`` mean ``and`` / ``or``. Text is compiled once; evaluation is one ``eval``
of a code object with the advice as its locals mapping.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable
from typing import Any

from livescope.instrument.advice import Advice

_GLOBALS: dict[str, Any] = {"__builtins__": builtins}


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


def compile_expression(text: str) -> Callable[[Advice], Any]:
    """Compile ``text`` once; the result evaluates it against an :class:`Advice` (or mapping).

    Raises :class:`ExpressionError` for a syntax error.
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

    def evaluate(advice: Any) -> Any:
        return eval(code, _GLOBALS, advice)  # noqa: S307 - the user's own diagnostic expression

    evaluate.__qualname__ = f"expression({text!r})"
    return evaluate
