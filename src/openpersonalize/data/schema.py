"""Avro schemas of Personalize datasets: parsing into a typed form shared by imports, events and training.

Validation rules of spec §4.1–4.3 (reserved fields, per-dataset-type requirements, domain schemas) live here
too, so CreateSchema, CreateDataset, imports and PutEvents all apply the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from ..api.errors import InvalidInputException

PRIMITIVES = ("string", "int", "long", "float", "double", "boolean", "null")


@dataclass(frozen=True)
class Field:
    """One column: its Avro primitive type, whether null is allowed, and Personalize attributes."""

    name: str
    type: str  # one of PRIMITIVES except "null"
    nullable: bool = False
    categorical: bool = False
    textual: bool = False
    item_name: bool = False


@dataclass(frozen=True)
class Schema:
    record_name: str
    fields: tuple[Field, ...]
    raw: dict[str, Any] = field(compare=False, hash=False, default_factory=dict)

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]


def _field_type(name: str, declared: Any) -> tuple[str, bool]:
    """``"string"`` → (string, False); ``["null","string"]`` / ``["string"]`` → (string, nullable?)."""
    options = declared if isinstance(declared, list) else [declared]
    if not options or not all(isinstance(o, str) for o in options):
        raise InvalidInputException(
            f"Field {name!r} has type {declared!r}: only primitive types and unions with null are allowed."
        )
    nullable = "null" in options
    rest = [o for o in options if o != "null"]
    if len(rest) != 1 or rest[0] not in PRIMITIVES:
        raise InvalidInputException(
            f"Field {name!r} has type {declared!r}: expected one of {', '.join(PRIMITIVES[:-1])}, optionally in a union with null."
        )
    return rest[0], nullable


def parse_schema(text: str) -> Schema:
    """Parse an Avro record schema string; structural errors are InvalidInputException."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputException(f"The schema is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("type") != "record":
        raise InvalidInputException('The schema must be an Avro record: {"type": "record", ...}.')
    if not isinstance(doc.get("name"), str) or not isinstance(doc.get("fields"), list):
        raise InvalidInputException("The schema must have a string 'name' and a list of 'fields'.")
    fields = []
    for item in doc["fields"]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidInputException(f"Schema field {item!r} must be an object with a string 'name'.")
        kind, nullable = _field_type(item["name"], item.get("type"))
        fields.append(
            Field(
                name=item["name"],
                type=kind,
                nullable=nullable,
                categorical=bool(item.get("categorical", False)),
                textual=bool(item.get("textual", False)),
                item_name=bool(item.get("itemName", False)),
            )
        )
    return Schema(record_name=doc["name"], fields=tuple(fields), raw=doc)
