"""What a hook sees of one call: the Arthas advice object expressions are evaluated against."""

from __future__ import annotations

from typing import Any

# Names an expression may use, mapped to Advice attributes.
ADVICE_NAMES = {
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


_new = object.__new__


class CallSite:
    """What every call of one hooked function shares: built once per hook, not per call."""

    __slots__ = ("clazz", "method", "class_name", "method_name", "kind")

    def __init__(
        self, clazz: Any, method: Any, class_name: str, method_name: str, kind: str
    ) -> None:
        self.clazz = clazz
        self.method = method
        self.class_name = class_name
        self.method_name = method_name
        self.kind = kind  # matcher kind: function, method, staticmethod, classmethod, property


class Advice:
    """One access point of one call. Doubles as the locals mapping of compiled expressions.

    Slots, not a ``__dict__``: an advice is made on every call of a hooked function, and the C
    callbacks (``_hotpath``) write its fields straight into the slots.
    """

    __slots__ = (
        "site",
        "params",
        "target",
        "return_obj",
        "throw_exp",
        "is_before",
        "is_return",
        "is_throw",
        "cost",
        "stash",  # {listener: what it keeps between before() and after()}, see keep()
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
        self.site = CallSite(clazz, method, class_name, method_name, kind)
        self.params = params
        self.target = target
        self.return_obj = return_obj
        self.throw_exp = throw_exp
        self.is_before = is_before
        self.is_return = is_return
        self.is_throw = is_throw
        self.cost = cost
        self.stash = None

    @classmethod
    def at_call(cls, site: CallSite, params: tuple, target: Any) -> Advice:
        """The advice of a call that is starting (the hot path: no keyword parsing)."""
        advice = _new(cls)
        advice.site = site
        advice.params = params
        advice.target = target
        advice.return_obj = advice.throw_exp = advice.stash = None
        advice.is_before = advice.is_return = advice.is_throw = False
        advice.cost = 0.0
        return advice

    def keep(self, listener: object, value: Any) -> None:
        """Keep ``value`` for ``listener`` from before() to after() of this call.

        Per listener: two commands hooking one function (stack and trace, say) each keep their
        own state.
        """
        if self.stash is None:
            self.stash = {}
        self.stash[listener] = value

    def kept(self, listener: object) -> Any:
        """What ``listener`` kept in before(), or None."""
        return None if self.stash is None else self.stash.get(listener)

    @property
    def clazz(self) -> Any:
        return self.site.clazz

    @property
    def method(self) -> Any:
        return self.site.method

    @property
    def class_name(self) -> str:
        return self.site.class_name

    @property
    def method_name(self) -> str:
        return self.site.method_name

    @property
    def kind(self) -> str:
        return self.site.kind

    @property
    def access_point(self) -> str:
        if self.is_before:
            return "AtEnter"
        return "AtExceptionExit" if self.is_throw else "AtExit"

    def __getitem__(self, name: str) -> Any:
        attr = ADVICE_NAMES.get(name)
        if attr is None:
            raise KeyError(name)
        return getattr(self, attr)
