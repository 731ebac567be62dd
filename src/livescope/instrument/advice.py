"""What a hook sees of one call: the Arthas advice object expressions are evaluated against."""

from __future__ import annotations

from typing import Any

# Names an expression may use, mapped to Advice attributes.
_NAMES = {
    "params": "params",
    "target": "target",
    "clazz": "clazz",
    "method": "method",
    "returnObj": "return_obj",
    "throwExp": "throw_exp",
    "isBefore": "is_before",
    "isReturn": "is_return",
    "isThrow": "is_throw",
    "cost": "cost",
}


class Advice:
    """One access point of one call. Doubles as the locals mapping of compiled expressions."""

    __slots__ = (
        "params",
        "target",
        "clazz",
        "method",
        "return_obj",
        "throw_exp",
        "is_before",
        "is_return",
        "is_throw",
        "cost",
        "class_name",
        "method_name",
        "stash",
        "kind",
    )

    def __init__(
        self,
        *,
        params: tuple = (),
        target: Any = None,
        clazz: Any = None,
        method: Any = None,
        return_obj: Any = None,
        throw_exp: BaseException | None = None,
        is_before: bool = False,
        is_return: bool = False,
        is_throw: bool = False,
        cost: float = 0.0,
        class_name: str = "",
        method_name: str = "",
        kind: str = "function",
    ) -> None:
        self.params = params
        self.target = target
        self.clazz = clazz
        self.method = method
        self.return_obj = return_obj
        self.throw_exp = throw_exp
        self.is_before = is_before
        self.is_return = is_return
        self.is_throw = is_throw
        self.cost = cost
        self.class_name = class_name
        self.method_name = method_name
        self.kind = kind  # matcher kind: function, method, staticmethod, classmethod, property
        self.stash: object = None  # what a listener keeps between before() and after()

    @property
    def access_point(self) -> str:
        if self.is_before:
            return "AtEnter"
        return "AtExceptionExit" if self.is_throw else "AtExit"

    def __getitem__(self, name: str) -> Any:
        attr = _NAMES.get(name)
        if attr is None:
            raise KeyError(name)
        return getattr(self, attr)
