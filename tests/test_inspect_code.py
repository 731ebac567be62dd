"""sc, sm, jad, getstatic, ognl and redefine against real target processes over HTTP."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(60)

SOURCE = """
import time
from pathlib import Path

Path("shop.py").write_text('''
import abc

TAX = 0.2
PRICES = {"apple": 3, "pear": 5}


class Base(abc.ABC):
    @abc.abstractmethod
    def total(self) -> float: ...


class Cart(Base):
    currency = "EUR"

    class Line:
        pass

    def __init__(self, items: list[str]) -> None:
        self.items = items

    def total(self) -> float:
        return sum(PRICES[i] for i in self.items) * (1 + TAX)

    @staticmethod
    def parse(text: str, sep: str = ",") -> list[str]:
        return text.split(sep)


def checkout(cart: Cart) -> float:
    return cart.total()
''')
import shop
exec("def generated(x):\\n    return x * 2", shop.__dict__)
print("ready", flush=True)
time.sleep(600)
"""


def _items(results: list[dict], kind: str) -> list[dict]:
    return [r for r in results if r["type"] == kind]


@pytest.fixture
def shop(make_target):
    target = make_target(SOURCE)
    target.wait_for_output("ready")
    return target


def test_jad_and_sc_on_every_python(make_target, any_python):
    target = make_target(SOURCE, python=any_python)
    target.wait_for_output("ready")
    jad = _items(target.results("jad shop.checkout"), "jad")[0]
    assert "return cart.total()" in jad["source"] and jad["stale"] is False
    names = _items(target.results("sc shop.*"), "sc")[0]["classNames"]
    assert names == ["shop.Base", "shop.Cart", "shop.Cart.Line"]


def test_sc_names_details_and_fields(shop):
    results = shop.results("sc shop.*")
    names = _items(results, "sc")[0]["classNames"]
    assert names == ["shop.Base", "shop.Cart", "shop.Cart.Line"]
    assert _items(results, "row_affect")[0]["rowCount"] == 3
    info = _items(shop.results("sc -d -f shop.Cart"), "sc")[0]["classInfo"]
    assert info["superClass"] == ["shop.Base"]
    assert info["codeSource"].endswith("shop.py")
    assert {"total", "parse", "__init__"} <= set(info["methods"])
    fields = {f["name"]: f for f in info["fields"]}
    assert fields["currency"]["value"] == "EUR"
    assert _items(shop.results("sc -d shop.Base"), "sc")[0]["classInfo"]["interface"] is True
    regex = _items(shop.results("sc -E shop\\.C.*"), "sc")[0]["classNames"]
    assert regex == ["shop.Cart", "shop.Cart.Line"]
    assert shop.results("sc -E ([")[-1]["statusCode"] == -1
    assert shop.results("sc")[-1]["statusCode"] == -10


def test_sc_segments_large_results(shop):
    items = _items(shop.results("sc *"), "sc")
    assert len(items) >= 2
    assert all(len(i["classNames"]) <= 256 for i in items)
    assert [i["segment"] for i in items] == list(range(len(items)))


def test_sm_signatures(shop):
    results = shop.results("sm shop.Cart")
    methods = {m["methodInfo"]["methodName"]: m["methodInfo"] for m in _items(results, "sm")}
    assert methods["parse"]["parameters"] == ["text: str", "sep: str = ','"]
    assert methods["parse"]["modifier"] == "staticmethod"
    assert methods["total"]["returnType"] == "float"
    assert methods["__init__"]["constructor"] is True
    assert _items(results, "row_affect")[0]["rowCount"] == len(methods)


def test_jad_shows_source_and_staleness(shop):
    jad = _items(shop.results("jad shop.Cart.total"), "jad")[0]
    assert "return sum(PRICES[i] for i in self.items) * (1 + TAX)" in jad["source"]
    assert jad["location"].endswith("shop.py")
    assert jad["sourceKind"] == "source" and jad["stale"] is False
    first_line = next(iter(jad["mappings"].values()))
    assert jad["source"].startswith(f"/*{first_line:>4}*/")
    module = _items(shop.results("jad shop"), "jad")[0]
    assert "class Cart(Base):" in module["source"]
    bytecode = _items(shop.results("jad json.decoder.JSONDecoder.decode"), "jad")[0]
    assert bytecode["sourceKind"] == "source"
    generated = _items(shop.results("jad shop.generated"), "jad")[0]
    assert generated["sourceKind"] == "bytecode"
    assert "BINARY_OP" in generated["source"] or "BINARY_MULTIPLY" in generated["source"]
    ambiguous = shop.results("jad shop.*")
    assert ambiguous[-1]["statusCode"] == -1
    assert len(_items(ambiguous, "jad")[0]["matchedClasses"]) == 3
    assert shop.results("jad shop.Nope")[-1]["statusCode"] == -1


def test_getstatic_and_ognl(shop):
    value = _items(shop.results("getstatic shop PRICES"), "getstatic")[0]
    assert value["fieldName"] == "PRICES" and value["field"] == {"apple": 3, "pear": 5}
    cur = _items(shop.results("getstatic shop.Cart currency"), "getstatic")[0]
    assert cur["field"] == "EUR"
    picked = _items(shop.results("getstatic shop PRICES \"target['pear']\""), "getstatic")[0]
    assert picked["field"] == 5
    missing = shop.results("getstatic shop NOPE")[-1]
    assert missing["statusCode"] == 1 and "NOPE" in missing["message"]
    ognl = _items(shop.results('ognl \'shop.Cart(["apple", "pear"]).total()\''), "ognl")[0]
    assert ognl["value"] == pytest.approx(9.6)
    listed = _items(shop.results("ognl '{shop.TAX, len(shop.PRICES)}'"), "ognl")[0]
    assert listed["value"] == [0.2, 2]
    bad = shop.results("ognl 'shop.nothing'")[-1]
    assert bad["statusCode"] == -1
    assert bad["message"].startswith("Failed to execute ognl, exception message: AttributeError")


def test_redefine_and_revert(shop):
    before = _items(shop.results("ognl 'shop.checkout(shop.Cart([\"apple\"]))'"), "ognl")
    assert before[0]["value"] == pytest.approx(3.6)
    new = "def total(self):\n    return 42.0"
    changed = _items(shop.results(f"redefine shop.Cart.total '{new}'"), "redefine")[0]
    assert changed["redefinedClasses"] == ["shop.Cart.total"]
    after = _items(shop.results("ognl 'shop.checkout(shop.Cart([\"apple\"]))'"), "ognl")
    assert after[0]["value"] == 42.0
    jad = _items(shop.results("jad shop.Cart.total"), "jad")[0]
    assert jad["stale"] is True
    listed = _items(shop.results("redefine -l"), "redefine")[0]
    assert listed["redefinedClasses"] == ["shop.Cart.total"]
    shop.results("redefine -r shop.Cart.total")
    again = _items(shop.results("ognl 'shop.checkout(shop.Cart([\"apple\"]))'"), "ognl")
    assert again[0]["value"] == pytest.approx(3.6)
    assert shop.results("redefine -r shop.Cart.total")[-1]["statusCode"] == 1
    assert shop.results("redefine shop.Cart.total 'def total(self) return'")[-1]["statusCode"] == -1
