"""Structural comparison of a JSON response with the sample a document shows for it.

Documents show responses with ``...`` where they leave parts out, and with ids, times and
random values of their own. :func:`parse_shown` reads such a sample (``...`` in an object means
"more keys", in an array "more items"; a sample cut off before its closing brackets is open
where it was cut), and :func:`shape_mismatches` lists where a real response differs from it:

* objects have the sample's keys (exactly, unless the sample is open or a rule below allows);
* values have the sample's JSON types (numbers are one type, as in JSON);
* a few keys whose values are fixed by the protocol (``state``, ``type``, ``inputStatus`` …)
  have the sample's values; all other values (ids, versions, times, costs, random numbers) are
  free;
* a list of result items (objects with a ``type``) has the sample's types in the sample's
  order; a type the sample shows several times in a row (one item per watch hit) may repeat any
  number of times, each item shaped like one of the shown ones, and each shown one seen;
* any other list whose sample items all look alike may have any length, each item like one of
  them; a list of unlike items (``[params, returnObj, throwExp]``) is a tuple: same length,
  position by position.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

MORE = "..."
"""What an elision becomes after :func:`parse_shown`: a key of an object, an item of a list."""


def parse_shown(text: str) -> Any:
    """A document's JSON sample, with its ``...`` elisions kept as :data:`MORE`."""
    out: list[str] = []
    stack: list[str] = []
    i = 0

    def last_char() -> str:
        for chunk in reversed(out):
            stripped = chunk.rstrip()
            if stripped:
                return stripped[-1]
        return ""

    def next_char(j: int) -> str:
        rest = text[j:].lstrip()
        return rest[:1]

    def elide() -> None:
        if last_char() not in ("", ",", "{", "["):
            out.append(",")
        out.append(f'"{MORE}": null' if stack[-1] == "{" else f'"{MORE}"')

    while i < len(text):
        ch = text[i]
        if ch == '"':
            end = i + 1
            while text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            out.append(text[i : end + 1])
            i = end + 1
            continue
        if text.startswith(MORE, i):
            elide()
            i += len(MORE)
            if next_char(i) not in ("", ",", "}", "]"):
                out.append(",")
            continue
        if ch in "{[":
            stack.append(ch)
        elif ch in "}]":
            opener = "{" if ch == "}" else "["
            while stack and stack[-1] != opener:  # the sample skipped this closer: it was cut
                elide()
                out.append("}" if stack.pop() == "{" else "]")
            stack.pop()
        out.append(ch)
        i += 1
    while stack:  # cut off at the end: open where it was cut
        elide()
        out.append("}" if stack.pop() == "{" else "]")
    return json.loads("".join(out))


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@dataclass(frozen=True)
class Rules:
    """What a comparison lets differ from the sample, each with its reason at the call site."""

    fixed_values: Set[str] = frozenset()
    """Keys whose values must equal the sample's."""
    free_types: Set[str] = frozenset()
    """Keys whose values are not compared at all (not even their type)."""
    extra_keys: Mapping[str, Set[str]] = field(default_factory=dict)
    """Per result ``type``: keys a response may have beyond the sample's."""
    optional_keys: Mapping[str, Set[str]] = field(default_factory=dict)
    """Per name of the list an object sits in: sample keys the response may leave out."""


def shape_mismatches(actual: Any, shown: Any, rules: Rules, path: str = "$") -> list[str]:
    """Every place where ``actual`` differs in shape from the sample ``shown`` (empty: same)."""
    key = _last_key(path)
    if key in rules.free_types:
        return []
    if kind(actual) != kind(shown):
        return [f"{path}: {kind(actual)} {_brief(actual)} where the sample has {kind(shown)}"]
    if key in rules.fixed_values and actual != shown:
        return [f"{path}: {actual!r} where the sample has {shown!r}"]
    if isinstance(shown, dict):
        return _object_mismatches(actual, shown, rules, path)
    if isinstance(shown, list):
        return _list_mismatches(actual, shown, rules, path)
    return []


def _object_mismatches(actual: dict, shown: dict, rules: Rules, path: str) -> list[str]:
    problems = []
    keys = [k for k in shown if k != MORE]
    optional = rules.optional_keys.get(_container_name(path), frozenset())
    for k in keys:
        if k in actual:
            problems += shape_mismatches(actual[k], shown[k], rules, f"{path}.{k}")
        elif k not in optional:
            problems.append(f"{path}: no key {k!r}")
    if MORE not in shown:
        allowed = set(keys) | set(rules.extra_keys.get(str(shown.get("type")), ()))
        extra = sorted(set(actual) - allowed)
        if extra:
            problems.append(f"{path}: keys {extra} that the sample does not have")
    return problems


def _list_mismatches(actual: list, shown: list, rules: Rules, path: str) -> list[str]:
    items = [x for x in shown if x != MORE]
    is_open = len(items) != len(shown)
    if not items:
        return []
    if all(isinstance(x, dict) and "type" in x for x in items):
        return _results_mismatches(actual, items, is_open, rules, path)
    if _alike(items):
        problems = []
        for n, item in enumerate(actual):
            problems += _best_match(item, items, rules, f"{path}[{n}]")
        return problems
    if len(actual) != len(items) and not is_open:
        return [f"{path}: {len(actual)} items where the sample has {len(items)}"]
    problems = []
    for n, (item, sample) in enumerate(zip(actual, items, strict=False)):
        problems += shape_mismatches(item, sample, rules, f"{path}[{n}]")
    return problems


def _results_mismatches(
    actual: list, items: list[dict], is_open: bool, rules: Rules, path: str
) -> list[str]:
    if not all(isinstance(x, dict) for x in actual):
        return [f"{path}: items that are not result objects: {_brief(actual)}"]
    if is_open:
        return _open_results_mismatches(actual, items, rules, path)
    shown_runs, actual_runs = _runs(items), _runs(actual)
    shown_types = [t for t, _ in shown_runs]
    actual_types = [t for t, _ in actual_runs]
    if shown_types != actual_types:
        return [f"{path}: result types {_types(actual)} where the sample has {_types(items)}"]
    problems = []
    n = 0
    for (rtype, samples), (_, got) in zip(shown_runs, actual_runs, strict=True):
        if len(samples) == 1 and len(got) != 1:
            problems.append(f"{path}: {len(got)} {rtype!r} items in a row where the sample has 1")
        matched: set[int] = set()
        for item in got:
            found = _matching(item, samples, rules)
            if found is None:
                problems += _best_match(item, samples, rules, f"{path}[{n}]")
            else:
                matched.add(found)
            n += 1
        for index, sample in enumerate(samples):
            if index not in matched:
                problems.append(f"{path}: no {rtype!r} item shaped like the sample's {sample}")
    return problems


def _open_results_mismatches(actual: list, items: list[dict], rules: Rules, path: str) -> list[str]:
    """An elided list of results: the shown types appear in order, each item like a shown one."""
    problems = []
    by_type: dict[str, list[dict]] = {}
    for sample in items:
        by_type.setdefault(sample["type"], []).append(sample)
    for n, item in enumerate(actual):
        samples = by_type.get(item.get("type"))
        if samples:
            problems += _best_match(item, samples, rules, f"{path}[{n}]")
    firsts = []
    for rtype in by_type:
        where = [n for n, item in enumerate(actual) if item.get("type") == rtype]
        if not where:
            problems.append(f"{path}: no {rtype!r} item; result types are {_types(actual)}")
        else:
            firsts.append(where[0])
    if firsts != sorted(firsts):
        problems.append(f"{path}: result types {_types(actual)} not in the order {list(by_type)}")
    return problems


def _matching(item: Any, samples: list[Any], rules: Rules) -> int | None:
    for index, sample in enumerate(samples):
        if not shape_mismatches(item, sample, rules):
            return index
    return None


def _best_match(item: Any, samples: list[Any], rules: Rules, path: str) -> list[str]:
    """No problem if ``item`` is like one of ``samples``; else the problems of the closest one."""
    tries = [shape_mismatches(item, sample, rules, path) for sample in samples]
    return min(tries, key=len)


def _alike(items: list[Any]) -> bool:
    kinds = {kind(x) for x in items}
    if len(kinds) != 1:
        return False
    if isinstance(items[0], dict):
        return len({frozenset(x) for x in items}) == 1
    return True


def _runs(items: list[dict]) -> list[tuple[Any, list[dict]]]:
    runs: list[tuple[Any, list[dict]]] = []
    for item in items:
        if runs and runs[-1][0] == item.get("type"):
            runs[-1][1].append(item)
        else:
            runs.append((item.get("type"), [item]))
    return runs


def _types(items: list[dict]) -> list[Any]:
    return [item.get("type") for item in items]


def _last_key(path: str) -> str:
    match = re.search(r"\.([^.\[\]]+)$", path)
    return match.group(1) if match else ""


def _container_name(path: str) -> str:
    """``stackTrace`` for ``$.x.stackTrace[3]``: the list an object sits in."""
    match = re.search(r"\.([^.\[\]]+)\[\d+\]$", path)
    return match.group(1) if match else ""


def _brief(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 120 else text[:117] + "..."
