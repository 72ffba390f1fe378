"""The filter language of spec §7: every documented example parses; errors name the token and position."""

from __future__ import annotations

import pytest

from openpersonalize.errors import InvalidInputException
from openpersonalize.data.schema import parse_schema
from openpersonalize.filters.parse import check_filter, parse_filter

EXAMPLES = [
    'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream")',
    "INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE)",
    'EXCLUDE ItemID WHERE Items.CATEGORY_L1 IN ("shoe") AND Items.CATEGORY_L2 NOT IN ("boot")',
    "INCLUDE ItemID WHERE Items.PRICE <= $PRICE",
    "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRE IN CurrentItem.GENRE",
    "EXCLUDE ItemID WHERE Items.GENRE IN ($GENRE) IF CurrentUser.AGE = $AGE",
    'INCLUDE ItemID WHERE Items.CATEGORY_L1 IN ("watch") AND Items.CATEGORY_L2 IN ("luxury") IF CurrentUser.AGE > 18',
    'INCLUDE ItemID WHERE Items.GENRE IN ($GENRE) | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream")',
    "INCLUDE UserID WHERE Users.MEMBERSHIP_STATUS IN ($MEMBERSHIP)",
    "EXCLUDE UserID WHERE Users.AGE < $AGE",
    'EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("NOT_TAKEN")',
    "INCLUDE ActionID WHERE Actions.VALUE > ($VALUE)",
]


@pytest.mark.parametrize("text", EXAMPLES)
def test_documented_examples_parse(text: str) -> None:
    parsed = parse_filter(text)
    assert len(parsed.expressions) == text.count("|") + 1


def test_tree_shape() -> None:
    parsed = parse_filter('exclude itemid where ITEMS.genres NOT  IN ("a", $G) or Items.PRICE >= -1.5 IF CurrentUser.AGE > 18')
    (expr,) = parsed.expressions
    assert (expr.action, expr.target, expr.bool_ops) == ("EXCLUDE", "ItemID", ("OR",))
    first, second = expr.conditions
    assert (first.dataset, first.field, first.op) == ("Items", "genres", "NOT IN")
    assert first.operand.values == ("a",) and first.operand.placeholders == ("G",)
    assert second.op == ">=" and second.operand.values == (-1.5,)
    assert expr.user_conditions[0].operand.values == (18.0,)
    assert expr.placeholders == {"G"}


def test_current_item_is_detected() -> None:
    assert parse_filter("INCLUDE ItemID WHERE Items.GENRE IN CurrentItem.GENRE").uses_current_item
    assert not parse_filter('INCLUDE ItemID WHERE Items.GENRE IN ("a")').uses_current_item


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("EXCLUDE ItemID WHERE", "ends too early"),
        ('INCLUDE Foo WHERE Items.A IN ("x")', "unexpected 'Foo' at position 9"),
        ('INCLUDE ItemID WHERE Items.A IN ("x") #', "invalid input symbol '#' at position 39"),
        ("INCLUDE ItemID WHERE Items.A IN (\"x\") IF CurrentUser.A = 1 OR CurrentUser.B = 2", "only be joined with AND"),
        ('INCLUDE ItemID WHERE Items.A ~ ("x")', "'~'"),
    ],
)
def test_syntax_errors_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInputException) as err:
        parse_filter(text)
    assert fragment in err.value.message
    assert err.value.message.startswith("Could not create filter. Invalid Expression")


ITEMS = parse_schema(
    '{"type":"record","name":"Items","fields":[{"name":"ITEM_ID","type":"string"},'
    '{"name":"GENRES","type":"string","categorical":true},{"name":"PRICE","type":"float"},'
    '{"name":"DESCRIPTION","type":["null","string"],"textual":true},{"name":"ADULT","type":"boolean"}]}'
)
INTERACTIONS = parse_schema(
    '{"type":"record","name":"Interactions","fields":[{"name":"USER_ID","type":"string"},'
    '{"name":"ITEM_ID","type":"string"},{"name":"EVENT_TYPE","type":"string"},{"name":"TIMESTAMP","type":"long"}]}'
)
SCHEMAS = {"ITEMS": ITEMS, "INTERACTIONS": INTERACTIONS}


def test_check_accepts_valid_filter_and_reports_fields() -> None:
    parsed = parse_filter('INCLUDE ItemID WHERE Items.genres IN ("a") AND Items.PRICE < 3 | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (*)')
    assert check_filter(parsed, SCHEMAS) == {("Items", "GENRES"), ("Items", "PRICE"), ("Interactions", "EVENT_TYPE")}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('INCLUDE ItemID WHERE Items.COLOR IN ("a")', "Items.COLOR is not a column"),
        ('INCLUDE ItemID WHERE Items.DESCRIPTION IN ("a")', "textual columns cannot be used"),
        ('INCLUDE ItemID WHERE Items.ADULT IN ("a")', "boolean columns cannot be used"),
        ('INCLUDE ItemID WHERE Users.AGE IN ("a")', "Users cannot filter ItemID"),
        ('INCLUDE UserID WHERE Users.AGE IN ("a")', "no Users dataset"),
        ('INCLUDE ItemID WHERE Items.GENRES IN (*)', "'*' can only be used with Items.EVENT_TYPE"),
        ("INCLUDE ItemID WHERE Items.GENRES < 3", "needs a numeric column"),
        ('INCLUDE ItemID WHERE Items.GENRES IN ("a") AND Interactions.EVENT_TYPE IN ("x")', "cannot share one expression"),
    ],
)
def test_check_rejects_with_precise_message(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInputException) as err:
        check_filter(parse_filter(text), SCHEMAS)
    assert fragment in err.value.message
