"""Avro schema validation of spec §4.1–4.3, without a server: every rule accepts a good schema and names the
field and the rule when it rejects a bad one."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from openpersonalize.errors import InvalidInputException
from openpersonalize.data.schema import (
    camel_case,
    check_evolution,
    normalise_dataset_type,
    parse_schema,
    record_dataset_type,
    validate_schema,
)


def schema(name: str, *fields: dict[str, Any]) -> str:
    return orjson.dumps(
        {"type": "record", "name": name, "namespace": "com.amazonaws.personalize.schema", "fields": list(fields),
         "version": "1.0"}
    ).decode()


def f(name: str, kind: Any = "string", **attributes: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, **attributes}


INTERACTIONS = [f("USER_ID"), f("ITEM_ID"), f("TIMESTAMP", "long")]
VOD_ITEMS = [f("ITEM_ID"), f("GENRES", categorical=True), f("CREATION_TIMESTAMP", "long")]
SHOP_ITEMS = [f("ITEM_ID"), f("PRICE", "float"), f("CATEGORY_L1", ["string"], categorical=True)]


def check(text: str, domain: str | None = None) -> str:
    return validate_schema(parse_schema(text), domain)


def rejected(text: str, domain: str | None = None) -> str:
    with pytest.raises(InvalidInputException) as err:
        check(text, domain)
    return err.value.message


# ---- accepted ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "domain", "dataset_type"),
    [
        (schema("Interactions", *INTERACTIONS, f("EVENT_TYPE"), f("EVENT_VALUE", ["float", "null"]),
                f("DEVICE", ["string", "null"], categorical=True), f("IMPRESSION", ["null", "string"]),
                f("RECOMMENDATION_ID", ["string", "null"]), f("EVENT_ATTRIBUTION_SOURCE", ["string", "null"])),
         None, "INTERACTIONS"),
        (schema("Users", f("USER_ID"), f("AGE", "int")), None, "USERS"),
        (schema("Items", f("ITEM_ID"), f("GENRES", categorical=True), f("DESCRIPTION", ["null", "string"], textual=True),
                f("TITLE", itemName=True), f("CREATION_TIMESTAMP", "long"), f("IS_NEW", "boolean")), None, "ITEMS"),
        (schema("Actions", f("ACTION_ID"), f("CATEGORY", categorical=True), f("VALUE", ["long", "null"]),
                f("ACTION_EXPIRATION_TIMESTAMP", ["long", "null"]), f("REPEAT_FREQUENCY", ["null", "long"]),
                f("TYPE", ["string", "null"])), None, "ACTIONS"),
        (schema("ActionInteractions", f("USER_ID"), f("ACTION_ID"), f("EVENT_TYPE"), f("TIMESTAMP", "long")),
         None, "ACTION_INTERACTIONS"),
        (schema("Action_Interactions", f("USER_ID"), f("ACTION_ID"), f("EVENT_TYPE"), f("TIMESTAMP", "long")),
         None, "ACTION_INTERACTIONS"),
        (schema("Interactions", *INTERACTIONS, f("EVENT_TYPE")), "VIDEO_ON_DEMAND", "INTERACTIONS"),
        (schema("Items", *VOD_ITEMS, f("PRODUCT_DESCRIPTION", ["string", "null"], textual=True),
                f("PRICE", ["float", "null"])), "VIDEO_ON_DEMAND", "ITEMS"),
        (schema("Users", f("USER_ID"), f("SUBSCRIPTION_MODEL", categorical=True)), "VIDEO_ON_DEMAND", "USERS"),
        (schema("Items", *SHOP_ITEMS, f("CREATION_TIMESTAMP", "float")), "ECOMMERCE", "ITEMS"),
        (schema("Users", f("USER_ID"), f("MEMBERSHIP_STATUS", categorical=True)), "ECOMMERCE", "USERS"),
    ],
)
def test_valid_schemas_are_accepted(text: str, domain: str | None, dataset_type: str) -> None:
    assert check(text, domain) == dataset_type


# ---- rejected ----------------------------------------------------------------------------------------------


BAD_SCHEMAS = [
        ("{not json", None, "not valid JSON"),
        ('{"type": "enum", "name": "Items", "symbols": ["A"]}', None, "must be an Avro record"),
        (schema("Clicks", *INTERACTIONS), None, "record name 'Clicks'"),
        (schema("Interactions"), None, "no fields"),
        (schema("Interactions", *INTERACTIONS, f("TAGS", {"type": "array", "items": "string"})), None,
         "only primitive types"),
        (schema("Interactions", *INTERACTIONS, f("SCORE", ["int", "string"])), None, "union with null"),
        (schema("Interactions", *INTERACTIONS, f("1BAD")), None, "field name '1BAD'"),
        (schema("Interactions", *INTERACTIONS, f("X" * 151)), None, "at most 150"),
        (schema("Interactions", *INTERACTIONS, f("USER_ID")), None, "'USER_ID' is declared twice"),
        (schema("Items", f("ITEM_ID"), f("GENRES_FIELD_1", categorical=True), f("GENRESFIELD1", categorical=True)),
         None, "'GENRESFIELD1' clashes with 'GENRES_FIELD_1'"),
        (schema("Items", f("ITEM_ID"), f("PRICE", "float", categorical=True)), None,
         "'PRICE' has type float but 'categorical'"),
        (schema("Items", f("ITEM_ID"), f("PRICE", "float", categorical="yes")), None, "must be true or false"),
        (schema("Users", f("USER_ID"), f("BIO", textual=True)), None, "only allowed in Items schemas"),
        (schema("Items", f("ITEM_ID"), f("A", textual=True), f("B", textual=True)), None,
         "at most 1 field can be 'textual'; found 2: A, B"),
        (schema("Items", f("ITEM_ID"), f("A", categorical=True, textual=True)), None, "both categorical and textual"),
        (schema("Items", f("ITEM_ID"), f("A", itemName=True), f("B", itemName=True), f("C", "int")), None,
         "at most 1 field can be 'itemName'"),
        (schema("Items", f("ITEM_ID"), f("A", "int", default="x")), None, "not a valid Avro schema"),
        (schema("Interactions", f("USER_ID"), f("ITEM_ID")), None, "missing: TIMESTAMP"),
        (schema("Interactions", f("USER_ID"), f("ITEM_ID"), f("TIMESTAMP", "int")), None,
         "required field 'TIMESTAMP' of a Interactions schema must have type long; got int"),
        (schema("Interactions", f("USER_ID", ["string", "null"]), f("ITEM_ID"), f("TIMESTAMP", "long")), None,
         "required field 'USER_ID' of a Interactions schema must not be nullable"),
        (schema("Interactions", *INTERACTIONS, f("EVENT_TYPE", categorical=True)), None,
         "reserved field 'EVENT_TYPE' of a Interactions schema must not be categorical"),
        (schema("Interactions", *INTERACTIONS, f("EVENT_VALUE", "string")), None,
         "reserved field 'EVENT_VALUE' of a Interactions schema must have type float"),
        (schema("Interactions", *INTERACTIONS, *[f(f"C{i}", categorical=True) for i in range(6)]), None,
         "at most 5 metadata fields besides the required and reserved ones; found 6"),
        (schema("Users", f("USER_ID"), *[f(f"C{i}", "int") for i in range(26)]), None, "at most 25 metadata fields"),
        (schema("Items", f("ITEM_ID"), *[f(f"C{i}", "int") for i in range(101)]), None, "at most 100 metadata fields"),
        (schema("Actions", f("ACTION_ID"), *[f(f"C{i}", "int") for i in range(11)]), None, "at most 10 metadata"),
        (schema("Users", f("USER_ID"), f("NAME")), None, "needs at least 1 metadata field besides USER_ID"),
        (schema("Items", f("ITEM_ID"), f("CREATION_TIMESTAMP", "long")), None, "needs at least 1 metadata field"),
        (schema("Items", f("ITEM_ID", itemName=True), f("A", "int")), None, "cannot be the itemName field"),
        (schema("Actions", f("ACTION_ID"), f("A", "int"), f("EXPIRATION_TIMESTAMP", "long"),
                f("ACTION_EXPIRATION_TIMESTAMP", "long")), None, "the same reserved field"),
        (schema("ActionInteractions", f("USER_ID"), f("ACTION_ID"), f("TIMESTAMP", "long")), None,
         "missing: EVENT_TYPE"),
        (schema("Interactions", *INTERACTIONS), "VIDEO_ON_DEMAND", "(VIDEO_ON_DEMAND) schema must contain"),
        (schema("Items", f("ITEM_ID"), f("GENRES_L1", categorical=True), f("CREATION_TIMESTAMP", "long")),
         "VIDEO_ON_DEMAND", "missing: GENRES"),
        (schema("Items", f("ITEM_ID"), f("GENRES"), f("CREATION_TIMESTAMP", "long")), "VIDEO_ON_DEMAND",
         "required field 'GENRES' of a Items (VIDEO_ON_DEMAND) schema must be categorical"),
        (schema("Items", *VOD_ITEMS, f("PRODUCT_DESCRIPTION", ["string", "null"])), "VIDEO_ON_DEMAND",
         "'PRODUCT_DESCRIPTION' of a Items (VIDEO_ON_DEMAND) schema must be textual"),
        (schema("Items", f("ITEM_ID"), f("PRICE", "double"), f("CATEGORY_L1", categorical=True)), "ECOMMERCE",
         "'PRICE' of a Items (ECOMMERCE) schema must have type float; got double"),
        (schema("Items", *SHOP_ITEMS, f("CREATION_TIMESTAMP", "string")), "ECOMMERCE", "must have type long or float"),
        (schema("Users", f("USER_ID")), "ECOMMERCE", "needs at least 1 metadata field"),
        (schema("Actions", f("ACTION_ID"), f("A", "int")), "ECOMMERCE", "not supported in ECOMMERCE domain"),
]


@pytest.mark.parametrize(("text", "domain", "fragment"), [pytest.param(*case, id=case[2]) for case in BAD_SCHEMAS])
def test_invalid_schemas_name_the_rule(text: str, domain: str | None, fragment: str) -> None:
    assert fragment in rejected(text, domain)


def test_reserved_words_are_fine_as_metadata_in_other_types() -> None:
    # EVENT_TYPE is only reserved in interaction datasets; in Users it is plain metadata.
    assert check(schema("Users", f("USER_ID"), f("EVENT_TYPE", categorical=True))) == "USERS"


# ---- dataset types and record names ------------------------------------------------------------------------


def test_dataset_type_is_case_insensitive_and_stored_upper_case() -> None:
    assert normalise_dataset_type("action_interactions") == "ACTION_INTERACTIONS"
    assert normalise_dataset_type("Items") == "ITEMS"
    with pytest.raises(InvalidInputException) as err:
        normalise_dataset_type("Clicks")
    assert "Invalid datasetType 'Clicks'" in err.value.message and "Action_Interactions" in err.value.message


def test_record_names_map_to_dataset_types() -> None:
    assert record_dataset_type("ActionInteractions") == record_dataset_type("Action_Interactions") == "ACTION_INTERACTIONS"
    assert record_dataset_type("interactions") == "INTERACTIONS"
    assert record_dataset_type("Events") is None


# ---- schema evolution (UpdateDataset) ----------------------------------------------------------------------

OLD = parse_schema(schema("Items", f("ITEM_ID"), f("GENRES", categorical=True)))


def test_evolution_may_add_nullable_fields() -> None:
    check_evolution(OLD, parse_schema(schema("Items", f("ITEM_ID"), f("GENRES", categorical=True),
                                             f("PRICE", ["null", "float"]))))


@pytest.mark.parametrize(
    ("new_fields", "fragment"),
    [
        ([f("ITEM_ID")], "field 'GENRES' of the current schema is missing"),
        ([f("ITEM_ID"), f("GENRES")], "changed from string (categorical) to string"),
        ([f("ITEM_ID"), f("GENRES", ["string", "null"], categorical=True)], "to string (nullable, categorical)"),
        ([f("ITEM_ID"), f("GENRES", categorical=True), f("PRICE", "float")], "added field 'PRICE' must be nullable"),
    ],
)
def test_evolution_keeps_old_fields_identical(new_fields: list[dict[str, Any]], fragment: str) -> None:
    with pytest.raises(InvalidInputException) as err:
        check_evolution(OLD, parse_schema(schema("Items", *new_fields)))
    assert fragment in err.value.message


def test_columns_in_camel_case_as_the_service_spells_them_outside_a_schema() -> None:
    assert [camel_case(c) for c in ("TITLE", "BRAND_NAME", "NUMBER_OF_RATINGS")] == ["title", "brandName", "numberOfRatings"]
