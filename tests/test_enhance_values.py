"""Expressions (OGNL sugar) and object rendering, as watch/tt/ognl use them."""

from __future__ import annotations

import pytest

from livescope.express import ExpressionError, compile_expression
from livescope.instrument.advice import Advice
from livescope.model.render import render


def advice(**kwargs: object) -> Advice:
    return Advice(params=(-170365, "x"), return_obj=[2, 2, 13], cost=12.5, **kwargs)


def test_seed_expressions() -> None:
    a = advice()
    assert compile_expression("{params, returnObj, throwExp}")(a) == [
        (-170365, "x"),
        [2, 2, 13],
        None,
    ]
    assert compile_expression('#{"n": params[0], "tag": "#{not sugar}"}')(a) == {
        "n": -170365,
        "tag": "#{not sugar}",
    }
    assert compile_expression("#cost > 10 && params[0] < 0")(a) is True
    assert compile_expression("isReturn || isThrow")(a) is False
    assert compile_expression("{}")(a) == {}


def test_expression_errors() -> None:
    with pytest.raises(ExpressionError, match=r"Syntax error in expression '\{params' at column"):
        compile_expression("{params")
    with pytest.raises(ExpressionError, match="Empty expression"):
        compile_expression("  ")
    with pytest.raises(NameError):
        compile_expression("nosuch")(advice())


class Node:
    def __init__(self) -> None:
        self.value = 1
        self.items = [1, [2, [3]]]
        self.me = self


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self) -> None:
        self.a = 1


def test_render_depth_cycles_and_kinds() -> None:
    assert render(Node()) == {
        "@type": f"{__name__}.Node",
        "value": 1,
        "items": [1, "@list[isEmpty=false;size=2]"],
        "me": f"@{__name__}.Node[cycle]",
    }
    assert render(Node(), expand=3)["items"] == [1, [2, [3]]]
    assert render(Slotted()) == {"@type": f"{__name__}.Slotted", "a": 1}
    assert render({1: float("nan"), "big": 2**70}) == {"1": "nan", "big": str(2**70)}
    assert render((1, {2})) == [1, [2]]


def test_render_exception_and_size_limit() -> None:
    def fail() -> None:
        raise ValueError("number is: -170365, need >= 2")

    try:
        fail()
    except ValueError as exc:
        error = render(exc)
    assert error["@type"] == "ValueError"
    assert error["message"] == error["localizedMessage"] == "number is: -170365, need >= 2"
    top = error["stackTrace"][0]
    assert top["methodName"] == "fail" and top["fileName"] == __file__ and top["lineNumber"] > 0
    assert render("x" * 100, size_limit=50).startswith("Object size exceeds size limit: 50")
