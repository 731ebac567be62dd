"""The base of every result model and the serialiser that turns models into API JSON.

A command never formats text: it emits result models, small dataclasses with one class per
result ``type``. Views (the JSON API, the terminal console, the web console) render them. Field
names are snake_case in Python and camelCase on the wire; ``None`` values are omitted, as
fastjson2 does for Arthas.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar


def json_field(wire_name: str, default: Any = None, **kwargs: Any) -> Any:
    """A dataclass field whose wire name is not the camelCase of its Python name."""
    metadata = dict(kwargs.pop("metadata", {}) or {})
    metadata["json"] = wire_name
    if "default_factory" in kwargs:
        return dataclasses.field(metadata=metadata, **kwargs)
    return dataclasses.field(default=default, metadata=metadata, **kwargs)


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


_WIRE_NAMES: dict[type, tuple[tuple[str, str], ...]] = {}


def _wire_names(cls: type) -> tuple[tuple[str, str], ...]:
    names = _WIRE_NAMES.get(cls)
    if names is None:
        names = tuple(
            (f.name, f.metadata.get("json") or camel_case(f.name))
            for f in dataclasses.fields(cls)
            if not f.metadata.get("internal")
        )
        _WIRE_NAMES[cls] = names
    return names


def to_wire(value: Any) -> Any:
    """Turn models, value objects, lists and maps into JSON-ready data (None fields omitted)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        model_type = getattr(value, "type", None)
        if isinstance(value, ResultModel):
            out["type"] = model_type
        for attr, wire in _wire_names(type(value)):
            item = getattr(value, attr)
            if item is not None:
                out[wire] = to_wire(item)
        return out
    if isinstance(value, dict):
        # Non-string keys (line numbers, thread states) become strings, as JSON requires.
        return {str(k): to_wire(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    return value


@dataclasses.dataclass(kw_only=True)
class ResultModel:
    """One item of ``body.results``. Subclasses set ``type`` and add their own fields."""

    type: ClassVar[str] = ""
    job_id: int = 0

    def to_wire(self) -> dict[str, Any]:
        return to_wire(self)
