"""Result models (one class per result type) and the JSON rendering of live objects."""

from livescope.model.base import ResultModel, to_wire

__all__ = ["ResultModel", "to_wire"]
