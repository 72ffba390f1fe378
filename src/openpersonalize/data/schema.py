"""Avro schemas of Personalize datasets: parsing into a typed form shared by imports, events and training.

Validation rules of spec §4.1–4.3 (reserved fields, per-dataset-type requirements, domain schemas) live here
too, so CreateSchema, CreateDataset, imports and PutEvents all apply the same ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import fastavro
import orjson

from ..errors import InvalidInputException

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


# ---- validation (spec §4.1–4.3) ------------------------------------------------------------------------------

DATASET_TYPES = ("INTERACTIONS", "ITEMS", "USERS", "ACTIONS", "ACTION_INTERACTIONS")
DOMAINS = ("ECOMMERCE", "VIDEO_ON_DEMAND")
NUMERIC = ("int", "long", "float", "double")
# ColumnName in the control-plane model (≤150, spec §1.6); also a valid Avro name.
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_FIELD_NAME = 150
ATTRIBUTES = ("categorical", "textual", "itemName")
# Columns every recipe reads: trainingDataConfig never drops them, and excluding one is refused (AWS: "You can't
# exclude EVENT_TYPE columns"; the ids and the timestamp are what an interaction is).
TRAINING_COLUMNS = frozenset({"USER_ID", "ITEM_ID", "ACTION_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"})
# Reserved timestamps describe the row, they are not the "≥1 metadata field" Users/Items/Actions need.
_NOT_METADATA = frozenset({"CREATION_TIMESTAMP", "EXPIRATION_TIMESTAMP", "ACTION_EXPIRATION_TIMESTAMP"})


def camel_case(column: str) -> str:
    """``NUMBER_OF_RATINGS`` → ``numberOfRatings``: how the service spells a column outside a schema (PutEvents
    properties keys; the keys of item metadata in recommendations, e.g. ``BRAND_NAME`` → ``brandName``)."""
    head, *rest = column.lower().split("_")
    return head + "".join(part.capitalize() for part in rest)


def dataset_type_name(dataset_type: str) -> str:
    """``ACTION_INTERACTIONS`` → ``Action_Interactions``: the spelling the docs use in messages."""
    return "_".join(part.capitalize() for part in dataset_type.split("_"))


def normalise_dataset_type(text: str) -> str:
    """The wire ``datasetType`` (any case) → the stored upper-case type; unknown → InvalidInputException."""
    upper = text.upper()
    if upper not in DATASET_TYPES:
        allowed = ", ".join(dataset_type_name(t) for t in DATASET_TYPES)
        raise InvalidInputException(f"Invalid datasetType {text!r}: expected one of {allowed} (any case).")
    return upper


def record_dataset_type(record_name: str) -> str | None:
    """The dataset type a record name declares: ``Interactions``, ``ActionInteractions`` or ``Action_Interactions``…"""
    key = record_name.replace("_", "").upper()
    for dataset_type in DATASET_TYPES:
        if dataset_type.replace("_", "") == key:
            return dataset_type
    return None


@dataclass(frozen=True)
class Rule:
    """What a required or reserved field must look like. ``categorical``: True must, False must not be."""

    types: tuple[str, ...]
    nullable: bool
    categorical: bool = False
    textual: bool = False


@dataclass(frozen=True)
class TypeRules:
    """Required and reserved fields of one dataset type (in a custom or a domain group) and its limits."""

    required: dict[str, Rule]
    reserved: dict[str, Rule]
    max_metadata: int
    needs_metadata: bool = False  # Users / Items / Actions need ≥1 usable metadata field (spec §4.2)


_ID = Rule(("string",), nullable=False)
_LONG = Rule(("long",), nullable=False)
_STR = Rule(("string",), nullable=False)
_CAT = Rule(("string",), nullable=False, categorical=True)
_OPT_STR = Rule(("string",), nullable=True)
_OPT_FLOAT = Rule(("float",), nullable=True)
_OPT_LONG = Rule(("long",), nullable=True)
_OPT_CAT = Rule(("string",), nullable=True, categorical=True)
_TEXT = Rule(("string",), nullable=True, textual=True)

_INTERACTION_RESERVED = {
    "EVENT_TYPE": _OPT_STR,
    "EVENT_VALUE": _OPT_FLOAT,
    "IMPRESSION": _OPT_STR,
    "RECOMMENDATION_ID": _OPT_STR,
    "EVENT_ATTRIBUTION_SOURCE": _OPT_STR,
}

# spec §4.2 (custom dataset groups); metadata limits are the current values of §11.
CUSTOM_RULES: dict[str, TypeRules] = {
    "INTERACTIONS": TypeRules(
        required={"USER_ID": _ID, "ITEM_ID": _ID, "TIMESTAMP": _LONG},
        reserved=_INTERACTION_RESERVED,
        max_metadata=5,
    ),
    "USERS": TypeRules(required={"USER_ID": _ID}, reserved={}, max_metadata=25, needs_metadata=True),
    "ITEMS": TypeRules(
        required={"ITEM_ID": _ID}, reserved={"CREATION_TIMESTAMP": _OPT_LONG}, max_metadata=100, needs_metadata=True
    ),
    "ACTIONS": TypeRules(
        required={"ACTION_ID": _ID},
        reserved={
            "CREATION_TIMESTAMP": _OPT_LONG,
            "VALUE": _OPT_LONG,
            # The docs name the column both ways (spec §4.2 ambiguity): either is the same reserved field.
            "EXPIRATION_TIMESTAMP": _OPT_LONG,
            "ACTION_EXPIRATION_TIMESTAMP": _OPT_LONG,
            "REPEAT_FREQUENCY": _OPT_LONG,
            "TYPE": _OPT_STR,
        },
        max_metadata=10,
        needs_metadata=True,
    ),
    "ACTION_INTERACTIONS": TypeRules(
        required={"USER_ID": _ID, "ACTION_ID": _ID, "EVENT_TYPE": _STR, "TIMESTAMP": _LONG},
        reserved={"IMPRESSION": _OPT_STR, "RECOMMENDATION_ID": _OPT_STR},
        max_metadata=5,
    ),
}

_DOMAIN_INTERACTIONS = TypeRules(
    required={"USER_ID": _ID, "ITEM_ID": _ID, "TIMESTAMP": _LONG, "EVENT_TYPE": _STR},
    reserved={k: v for k, v in _INTERACTION_RESERVED.items() if k != "EVENT_TYPE"},
    max_metadata=5,
)

# spec §4.3. VOD requires GENRES (not the GENRES_L1 of one printed example); ECOMMERCE CREATION_TIMESTAMP may be
# long or float (the domain pages disagree).
DOMAIN_RULES: dict[tuple[str, str], TypeRules] = {
    ("VIDEO_ON_DEMAND", "INTERACTIONS"): _DOMAIN_INTERACTIONS,
    ("ECOMMERCE", "INTERACTIONS"): _DOMAIN_INTERACTIONS,
    ("VIDEO_ON_DEMAND", "ITEMS"): TypeRules(
        required={"ITEM_ID": _ID, "GENRES": _CAT, "CREATION_TIMESTAMP": _LONG},
        reserved={
            "PRICE": _OPT_FLOAT,
            "DURATION": _OPT_FLOAT,
            "GENRE_L2": _OPT_CAT,
            "GENRE_L3": _OPT_CAT,
            "AVERAGE_RATING": _OPT_FLOAT,
            "PRODUCT_DESCRIPTION": _TEXT,
            "CONTENT_OWNER": _OPT_CAT,
            "CONTENT_CLASSIFICATION": _OPT_CAT,
        },
        max_metadata=100,
    ),
    ("VIDEO_ON_DEMAND", "USERS"): TypeRules(
        required={"USER_ID": _ID}, reserved={"SUBSCRIPTION_MODEL": _OPT_CAT}, max_metadata=25, needs_metadata=True
    ),
    ("ECOMMERCE", "ITEMS"): TypeRules(
        required={"ITEM_ID": _ID, "PRICE": Rule(("float",), nullable=False), "CATEGORY_L1": _CAT},
        reserved={
            "CATEGORY_L2": _OPT_CAT,
            "CATEGORY_L3": _OPT_CAT,
            "PRODUCT_DESCRIPTION": _TEXT,
            "CREATION_TIMESTAMP": Rule(("long", "float"), nullable=True),
            "AGE_GROUP": _OPT_CAT,
            "ADULT": _OPT_CAT,
            "GENDER": _OPT_CAT,
        },
        max_metadata=100,
    ),
    ("ECOMMERCE", "USERS"): TypeRules(required={"USER_ID": _ID}, reserved={}, max_metadata=25, needs_metadata=True),
}


def rules_for(dataset_type: str, domain: str | None) -> TypeRules:
    """The rules of a dataset type in a custom group (domain None) or a domain group."""
    if domain is None:
        return CUSTOM_RULES[dataset_type]
    rules = DOMAIN_RULES.get((domain, dataset_type))
    if rules is None:
        raise InvalidInputException(
            f"Invalid schema: {dataset_type_name(dataset_type)} datasets are not supported in {domain} domain "
            "dataset groups, so a schema with that record name cannot have a domain."
        )
    return rules


def _check_avro(raw: dict[str, Any]) -> None:
    """Avro-level checks fastavro does and we do not repeat (e.g. a default that does not match its type)."""
    try:
        fastavro.parse_schema(raw)
    except Exception as exc:  # fastavro raises several types; any of them means "not valid Avro"
        raise InvalidInputException(f"Invalid schema: not a valid Avro schema: {exc}") from None


def _check_names(schema: Schema) -> None:
    if not schema.fields:
        raise InvalidInputException("Invalid schema: the record has no fields.")
    seen: dict[str, str] = {}
    for f in schema.fields:
        if len(f.name) > MAX_FIELD_NAME or not FIELD_NAME.fullmatch(f.name):
            raise InvalidInputException(
                f"Invalid schema: field name {f.name!r} must match [A-Za-z_][A-Za-z0-9_]* and have at most "
                f"{MAX_FIELD_NAME} characters."
            )
        # Personalize maps names without their separators (camelCase properties ↔ UPPER_SNAKE columns), so
        # GENRES_FIELD_1 and GENRESFIELD1 would be the same column.
        key = re.sub(r"[^A-Za-z0-9]", "", f.name).upper()
        if key in seen:
            same = "is declared twice" if seen[key] == f.name else f"clashes with {seen[key]!r}"
            raise InvalidInputException(
                f"Invalid schema: field name {f.name!r} {same}: names must be unique, also after removing "
                "non-alphanumeric characters and ignoring case."
            )
        seen[key] = f.name


def _check_attribute_values(raw: dict[str, Any]) -> None:
    for item in raw.get("fields", []):
        for attribute in ATTRIBUTES:
            if attribute in item and not isinstance(item[attribute], bool):
                raise InvalidInputException(
                    f"Invalid schema: attribute {attribute!r} of field {item['name']!r} must be true or false; "
                    f"got {item[attribute]!r}."
                )


def _check_attributes(schema: Schema, dataset_type: str) -> None:
    """categorical / textual / itemName: string fields only; textual and itemName in Items, once each."""
    record = dataset_type_name(dataset_type)
    for f in schema.fields:
        for attribute, on in (("categorical", f.categorical), ("textual", f.textual), ("itemName", f.item_name)):
            if on and f.type != "string":
                raise InvalidInputException(
                    f"Invalid schema: field {f.name!r} has type {f.type} but {attribute!r} is only allowed on string fields."
                )
            if on and attribute != "categorical" and dataset_type != "ITEMS":
                raise InvalidInputException(
                    f"Invalid schema: field {f.name!r} is {attribute!r}, which is only allowed in Items schemas, "
                    f"not in {record} schemas."
                )
        if f.categorical and f.textual:
            raise InvalidInputException(f"Invalid schema: field {f.name!r} cannot be both categorical and textual.")
    for attribute, flagged in (
        ("textual", [f.name for f in schema.fields if f.textual]),
        ("itemName", [f.name for f in schema.fields if f.item_name]),
    ):
        if len(flagged) > 1:
            raise InvalidInputException(
                f"Invalid schema: at most 1 field can be {attribute!r}; found {len(flagged)}: {', '.join(flagged)}."
            )


def _check_rule(f: Field, rule: Rule, role: str, record: str) -> None:
    where = f"{role} field {f.name!r} of a {record} schema"
    if f.type not in rule.types:
        raise InvalidInputException(
            f"Invalid schema: {where} must have type {' or '.join(rule.types)}; got {f.type}."
        )
    if f.nullable and not rule.nullable:
        raise InvalidInputException(f"Invalid schema: {where} must not be nullable (remove \"null\" from its type).")
    if f.categorical != rule.categorical:
        must = "must" if rule.categorical else "must not"
        raise InvalidInputException(f"Invalid schema: {where} {must} be categorical.")
    if f.textual != rule.textual:
        must = "must" if rule.textual else "must not"
        raise InvalidInputException(f"Invalid schema: {where} {must} be textual.")
    if f.item_name:
        raise InvalidInputException(f"Invalid schema: {where} cannot be the itemName field.")


def _check_fields(schema: Schema, rules: TypeRules, dataset_type: str, domain: str | None) -> None:
    record = dataset_type_name(dataset_type) + (f" ({domain})" if domain else "")
    missing = [name for name in rules.required if schema.field(name) is None]
    if missing:
        raise InvalidInputException(
            f"Invalid schema: a {record} schema must contain the required fields "
            f"{', '.join(rules.required)}; missing: {', '.join(missing)}."
        )
    if schema.field("EXPIRATION_TIMESTAMP") and schema.field("ACTION_EXPIRATION_TIMESTAMP"):
        raise InvalidInputException(
            "Invalid schema: EXPIRATION_TIMESTAMP and ACTION_EXPIRATION_TIMESTAMP are the same reserved field; "
            "declare only one."
        )
    metadata: list[Field] = []
    for f in schema.fields:
        if f.name in rules.required:
            _check_rule(f, rules.required[f.name], "required", record)
        elif f.name in rules.reserved:
            _check_rule(f, rules.reserved[f.name], "reserved", record)
        else:
            metadata.append(f)
    if len(metadata) > rules.max_metadata:
        raise InvalidInputException(
            f"Invalid schema: a {record} schema can have at most {rules.max_metadata} metadata fields besides the "
            f"required and reserved ones; found {len(metadata)}."
        )
    if rules.needs_metadata and not any(_usable_metadata(f) for f in schema.fields if f.name not in rules.required):
        raise InvalidInputException(
            f"Invalid schema: a {record} schema needs at least 1 metadata field besides "
            f"{', '.join(rules.required)} that is numeric or a categorical or textual string."
        )


def _usable_metadata(f: Field) -> bool:
    return f.name not in _NOT_METADATA and (f.type in NUMERIC or f.categorical or f.textual)


def validate_schema(schema: Schema, domain: str | None = None) -> str:
    """Apply the CreateSchema rules of spec §4.1–4.3; return the dataset type the record name declares."""
    dataset_type = record_dataset_type(schema.record_name)
    if dataset_type is None:
        raise InvalidInputException(
            f"Invalid schema: record name {schema.record_name!r} must name the dataset type the schema is for: "
            "Interactions, Items, Users, Actions or ActionInteractions."
        )
    _check_attribute_values(schema.raw)
    _check_avro(schema.raw)
    _check_names(schema)
    _check_attributes(schema, dataset_type)
    _check_fields(schema, rules_for(dataset_type, domain), dataset_type, domain)
    return dataset_type


def check_evolution(old: Schema, new: Schema) -> None:
    """UpdateDataset: the new schema keeps every old field identical and only adds nullable fields (spec §2.3)."""
    for before in old.fields:
        after = new.field(before.name)
        if after is None:
            raise InvalidInputException(
                f"Invalid schema update: field {before.name!r} of the current schema is missing from the new schema; "
                "existing fields cannot be removed."
            )
        if after != before:
            raise InvalidInputException(
                f"Invalid schema update: field {before.name!r} changed from {_describe(before)} to {_describe(after)}; "
                "existing fields must keep their type and attributes."
            )
    for f in new.fields:
        if old.field(f.name) is None and not f.nullable:
            raise InvalidInputException(
                f"Invalid schema update: added field {f.name!r} must be nullable (a union with \"null\"), because "
                "rows imported before the update have no value for it."
            )


def _describe(f: Field) -> str:
    flags = [name for name, on in (("nullable", f.nullable), ("categorical", f.categorical),
                                   ("textual", f.textual), ("itemName", f.item_name)) if on]
    return f"{f.type}" + (f" ({', '.join(flags)})" if flags else "")
