"""Output rendering driven by the botocore output shape: handlers return plain dicts (habit 4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.model import Shape


def serialize(value: Any, shape: Shape | None) -> dict[str, Any]:
    """Drop absent members, render timestamps as epoch seconds with millisecond precision."""
    if shape is None or value is None:
        return {}
    return _structure(value, shape)


def _structure(value: dict[str, Any], shape: Shape) -> dict[str, Any]:
    members = shape.members  # type: ignore[attr-defined]
    out: dict[str, Any] = {}
    for key, member in members.items():
        item = value.get(key)
        if item is not None:
            out[key] = _value(item, member)
    return out


def _value(value: Any, shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _structure(value, shape)
    if kind == "list":
        member = shape.member  # type: ignore[attr-defined]
        return [_value(item, member) for item in value]
    if kind == "map":
        inner = shape.value  # type: ignore[attr-defined]
        return {k: _value(v, inner) for k, v in value.items()}
    if kind == "timestamp":
        seconds = value.timestamp() if isinstance(value, datetime) else float(value)
        return round(seconds, 3)
    if kind in ("float", "double"):
        return float(value)
    if kind in ("integer", "long"):
        return int(value)
    return value
