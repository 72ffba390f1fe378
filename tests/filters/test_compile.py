"""Filter masks (spec §7.2, §7.4) on hand-built catalogues: every documented example and semantic rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest

from openpersonalize.errors import InvalidInputException
from openpersonalize.data.schema import Schema, parse_schema
from openpersonalize.filters.compile import (
    CompiledFilter,
    FilterCatalog,
    UserEvents,
    compile_filter,
    recent_events,
)
from openpersonalize.filters.parse import parse_filter


def _schema(name: str, fields: str) -> Schema:
    return parse_schema(f'{{"type":"record","name":"{name}","fields":[{fields}]}}')


SCHEMAS = {
    "ITEMS": _schema(
        "Items",
        '{"name":"ITEM_ID","type":"string"},{"name":"GENRE","type":["null","string"],"categorical":true},'
        '{"name":"CATEGORY_L1","type":["null","string"],"categorical":true},'
        '{"name":"CATEGORY_L2","type":["null","string"],"categorical":true},'
        '{"name":"STUDIO","type":["null","string"]},{"name":"PRICE","type":["null","float"]}',
    ),
    "INTERACTIONS": _schema(
        "Interactions",
        '{"name":"USER_ID","type":"string"},{"name":"ITEM_ID","type":"string"},{"name":"EVENT_TYPE","type":"string"},'
        '{"name":"TIMESTAMP","type":"long"},{"name":"DEVICE","type":["null","string"],"categorical":true}',
    ),
    "USERS": _schema(
        "Users",
        '{"name":"USER_ID","type":"string"},{"name":"AGE","type":["null","int"]},'
        '{"name":"MEMBERSHIP_STATUS","type":["null","string"],"categorical":true}',
    ),
    "ACTIONS": _schema("Actions", '{"name":"ACTION_ID","type":"string"},{"name":"VALUE","type":["null","long"]}'),
    "ACTION_INTERACTIONS": _schema(
        "ActionInteractions",
        '{"name":"USER_ID","type":"string"},{"name":"ACTION_ID","type":"string"},{"name":"EVENT_TYPE","type":"string"},'
        '{"name":"TIMESTAMP","type":"long"}',
    ),
}

# Six candidate items; i5 has no Items record at all, i3 only nulls besides its category.
ITEMS = pl.DataFrame(
    {
        "ITEM_ID": ["i0", "i1", "i2", "i3", "i4"],
        "GENRE": ["Comedy|Drama", "Comedy", "Horror", None, "Drama"],
        "CATEGORY_L1": ["shoe", "shoe", "watch", "shoe", "watch"],
        "CATEGORY_L2": ["boot", "sandal", "luxury", None, "sport"],
        "STUDIO": ["A", "B", "A", None, "B"],
        "PRICE": [10.0, 20.0, 500.0, None, 50.0],
    }
)
ITEM_IDS = np.array(["i0", "i1", "i2", "i3", "i4", "i5"], dtype=object)
USERS = pl.DataFrame(
    {"USER_ID": ["u0", "u1", "u2", "u3"], "AGE": [25, 17, None, 40], "MEMBERSHIP_STATUS": ["gold", "silver|gold", None, "bronze"]}
)
INTERACTIONS = pl.DataFrame(
    {
        "USER_ID": ["u0", "u1", "u0", "u3"],
        "ITEM_ID": ["i0", "i1", "i2", "i0"],
        "EVENT_TYPE": ["CLICK", "view", "view", "click"],
        "TIMESTAMP": [1, 2, 3, 4],
        "DEVICE": ["mobile", None, "tv", None],
    }
)
ACTIONS = pl.DataFrame({"ACTION_ID": ["a0", "a1", "a2"], "VALUE": [5, 50, None]})
CATALOG = FilterCatalog.build(
    ITEM_IDS, ITEMS, USERS, ACTIONS, np.array(["a0", "a1", "a2", "a3"]), interactions=INTERACTIONS
)


def _compile(text: str) -> CompiledFilter:
    return compile_filter(parse_filter(text), SCHEMAS)


def items(text: str, catalog: FilterCatalog = CATALOG, **request: Any) -> list[int]:
    return _compile(text).item_mask(catalog, **request).astype(int).tolist()


def events(item_ids: list[str], event_types: list[str], **columns: list[Any]) -> UserEvents:
    return UserEvents(np.array(item_ids, dtype=object), np.array(event_types, dtype=object), columns)


HISTORY = events(["i0", "i2", "i4", "gone"], ["click", "Stream", "view", "click"])


# ---- spec §7.4, one test per example ---------------------------------------------------------------------------


def test_exclude_clicked_or_streamed() -> None:
    text = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream")'
    assert items(text, history=HISTORY) == [0, 1, 0, 1, 1, 1]
    assert items(text, history=None) == [1] * 6  # a user without history has interacted with nothing


def test_include_event_type_placeholder() -> None:
    text = "INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE)"
    assert items(text, history=HISTORY, values={"EVENT_TYPE": '"view"'}) == [0, 0, 0, 0, 1, 0]
    assert items(text, history=HISTORY, values={"EVENT_TYPE": '"VIEW","click"'}) == [1, 0, 0, 0, 1, 0]
    with pytest.raises(InvalidInputException, match=r"no value for \$EVENT_TYPE"):
        items(text, history=HISTORY)


def test_exclude_two_category_levels() -> None:
    # i1 is a shoe that is not a boot; i3 is a shoe with no CATEGORY_L2, which satisfies no NOT IN either.
    text = 'EXCLUDE ItemID WHERE Items.CATEGORY_L1 IN ("shoe") AND Items.CATEGORY_L2 NOT IN ("boot")'
    assert items(text) == [1, 0, 1, 1, 1, 1]


def test_include_price_placeholder() -> None:
    text = "INCLUDE ItemID WHERE Items.PRICE <= $PRICE"
    assert items(text, values={"PRICE": "20"}) == [1, 1, 0, 0, 0, 0]
    assert items(text, values={"PRICE": '"50"'}) == [1, 1, 0, 0, 1, 0]  # quoted numbers are numbers too
    assert items(text, values={"PRICE": "9.99"}) == [0] * 6


def test_include_cheaper_same_genre_as_current_item() -> None:
    text = "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRE IN CurrentItem.GENRE"
    assert items(text, current_item=CATALOG.item_record("i4")) == [1, 0, 0, 0, 0, 0]  # Drama under 50
    assert items(text, current_item={"GENRE": "Comedy|Horror", "PRICE": 100}) == [1, 1, 0, 0, 0, 0]
    assert items(text, current_item={"genre": "Horror", "price": "1000"}) == [0, 0, 1, 0, 0, 0]  # any key case
    assert items(text, current_item={}) == [0] * 6  # the current item has no metadata: nothing matches


def test_exclude_genre_if_user_age() -> None:
    text = "EXCLUDE ItemID WHERE Items.GENRE IN ($GENRE) IF CurrentUser.AGE = $AGE"
    values = {"GENRE": '"Comedy"', "AGE": "25"}
    assert items(text, values=values, user_record={"USER_ID": "u0", "AGE": 25}) == [0, 0, 1, 1, 1, 1]
    assert items(text, values=values, user_record={"USER_ID": "u1", "AGE": 30}) == [1] * 6
    assert items(text, values=values, user_record=None) == [1] * 6  # no Users record: skipped
    assert items(text, values=values, user_record={"USER_ID": "u2", "AGE": None}) == [1] * 6
    assert items(text, values={"GENRE": '"Comedy"'}, user_record={"AGE": 25}) == [1] * 6  # EXCLUDE missing $AGE


def test_include_luxury_watches_for_adults() -> None:
    text = 'INCLUDE ItemID WHERE Items.CATEGORY_L1 IN ("watch") AND Items.CATEGORY_L2 IN ("luxury") IF CurrentUser.AGE > 18'
    assert items(text, user_record={"AGE": 30}) == [0, 0, 1, 0, 0, 0]
    assert items(text, user_record={"AGE": "21"}) == [0, 0, 1, 0, 0, 0]  # PutUsers values arrive as strings
    assert items(text, user_record={"AGE": 18}) == [1] * 6  # IF false: the only INCLUDE is skipped


def test_include_genre_exclude_clicked() -> None:
    text = 'INCLUDE ItemID WHERE Items.GENRE IN ($GENRE) | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream")'
    assert items(text, history=HISTORY, values={"GENRE": '"Comedy","Drama"'}) == [0, 1, 0, 0, 1, 0]


def test_include_users_by_membership() -> None:
    compiled = _compile("INCLUDE UserID WHERE Users.MEMBERSHIP_STATUS IN ($MEMBERSHIP)")
    assert compiled.user_mask(CATALOG, values={"MEMBERSHIP": '"gold"'}).tolist() == [True, True, False, False]


def test_exclude_younger_users() -> None:
    compiled = _compile("EXCLUDE UserID WHERE Users.AGE < $AGE")
    assert compiled.user_mask(CATALOG, values={"AGE": "18"}).tolist() == [True, False, True, True]  # null AGE stays


def test_exclude_actions_not_taken() -> None:
    compiled = _compile('EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("NOT_TAKEN")')
    history = events(["a1", "a3", "a0"], ["not_taken", "Not_Taken", "TAKEN"])
    assert compiled.action_mask(CATALOG, history=history).tolist() == [True, False, True, False]


def test_include_actions_by_value() -> None:
    compiled = _compile("INCLUDE ActionID WHERE Actions.VALUE > ($VALUE)")
    assert compiled.action_mask(CATALOG, values={"VALUE": "10"}).tolist() == [False, True, False, False]


# ---- combining expressions and placeholders ---------------------------------------------------------------


def test_includes_unite_and_excludes_unite() -> None:
    assert items('INCLUDE ItemID WHERE Items.GENRE IN ("Horror") | INCLUDE ItemID WHERE Items.PRICE < 15') == [
        1, 0, 1, 0, 0, 0,
    ]
    assert items('EXCLUDE ItemID WHERE Items.GENRE IN ("Horror") | EXCLUDE ItemID WHERE Items.PRICE < 15') == [
        0, 1, 0, 1, 1, 1,
    ]
    # Order doesn't matter: the EXCLUDE removes from the INCLUDE union wherever it is written.
    assert items('EXCLUDE ItemID WHERE Items.PRICE < 15 | INCLUDE ItemID WHERE Items.GENRE IN ("Comedy")') == [
        0, 1, 0, 0, 0, 0,
    ]


def test_include_placeholder_missing_names_the_parameter() -> None:
    with pytest.raises(InvalidInputException) as err:
        items('EXCLUDE ItemID WHERE Items.PRICE > 1 | INCLUDE ItemID WHERE Items.GENRE IN ("x", $GENRE)')
    assert err.value.message == (
        'filterValues has no value for $GENRE, which the INCLUDE expression '
        '`INCLUDE ItemID WHERE Items.GENRE IN ("x", $GENRE)` needs.'
    )
    with pytest.raises(InvalidInputException, match=r"\$AGE"):  # placeholders of the IF clause count too
        items("INCLUDE ItemID WHERE Items.PRICE > 1 IF CurrentUser.AGE > $AGE", user_record={"AGE": 3})


def test_exclude_placeholder_missing_skips_only_that_expression() -> None:
    text = "EXCLUDE ItemID WHERE Items.GENRE IN ($GENRE) | EXCLUDE ItemID WHERE Items.PRICE > $PRICE"
    assert items(text, values={"PRICE": "30"}) == [1, 1, 0, 1, 0, 1]
    assert items(text) == [1] * 6


def test_numeric_placeholder_errors() -> None:
    with pytest.raises(InvalidInputException) as err:
        items("INCLUDE ItemID WHERE Items.PRICE <= $PRICE", values={"PRICE": '"cheap"'})
    assert err.value.message == (
        "Invalid filter value for PRICE: 'cheap' is not a number, but `Items.PRICE <= $PRICE` compares a numeric field."
    )
    with pytest.raises(InvalidInputException, match="PRICE: `Items.PRICE <= \\$PRICE` compares with one number; got 2"):
        items("INCLUDE ItemID WHERE Items.PRICE <= $PRICE", values={"PRICE": '"1","2"'})
    with pytest.raises(InvalidInputException, match="Invalid filter value for GENRE"):
        items('INCLUDE ItemID WHERE Items.GENRE IN ($GENRE)', values={"GENRE": "Comedy"})


def test_numeric_in_and_literal_numbers() -> None:
    assert items("INCLUDE ItemID WHERE Items.PRICE IN (10, 50)") == [1, 0, 0, 0, 1, 0]
    assert items("INCLUDE ItemID WHERE Items.PRICE IN ($P)", values={"P": '"20","500"'}) == [0, 1, 1, 0, 0, 0]
    assert items("INCLUDE ItemID WHERE Items.PRICE >= -1") == [1, 1, 1, 0, 1, 0]


def test_not_equal_ignores_nulls() -> None:
    assert items("INCLUDE ItemID WHERE Items.PRICE != 20") == [1, 0, 1, 0, 1, 0]
    assert items("EXCLUDE ItemID WHERE Items.PRICE != $P", values={"P": "20"}) == [0, 1, 0, 1, 0, 1]


def test_null_and_missing_records_satisfy_nothing() -> None:
    assert items('INCLUDE ItemID WHERE Items.GENRE NOT IN ("Comedy")') == [0, 0, 1, 0, 1, 0]
    assert items('EXCLUDE ItemID WHERE Items.GENRE NOT IN ("Comedy")') == [1, 1, 0, 1, 0, 1]


def test_multi_valued_and_exact_strings() -> None:
    assert items('INCLUDE ItemID WHERE Items.GENRE IN ("Drama")') == [1, 0, 0, 0, 1, 0]
    assert items('INCLUDE ItemID WHERE Items.GENRE IN ("drama")') == [0] * 6  # metadata matching is exact
    assert items('INCLUDE ItemID WHERE Items.GENRE NOT IN ("Drama")') == [0, 1, 1, 0, 0, 0]
    assert items('INCLUDE ItemID WHERE items.genre in ("Comedy|Drama")') == [0] * 6  # one value, not a split list
    assert items('INCLUDE ItemID WHERE Items.STUDIO IN ("A")') == [1, 0, 1, 0, 0, 0]


def test_and_binds_tighter_than_or() -> None:
    # shoe OR (Horror AND PRICE < 100): i0, i1, i3. Left to right, (shoe OR Horror) AND PRICE < 100, would be i0, i1.
    text = 'INCLUDE ItemID WHERE Items.CATEGORY_L1 IN ("shoe") OR Items.GENRE IN ("Horror") AND Items.PRICE < 100'
    assert items(text) == [1, 1, 0, 1, 0, 0]
    text = 'INCLUDE ItemID WHERE Items.PRICE < 100 AND Items.GENRE IN ("Horror") OR Items.STUDIO IN ("B")'
    assert items(text) == [0, 1, 0, 0, 1, 0]


def test_if_clause_with_several_conditions() -> None:
    text = 'INCLUDE ItemID WHERE Items.GENRE IN ("Horror") IF CurrentUser.AGE >= 18 AND CurrentUser.MEMBERSHIP_STATUS IN ("gold")'
    assert items(text, user_record={"AGE": 40, "MEMBERSHIP_STATUS": "silver|gold"}) == [0, 0, 1, 0, 0, 0]
    assert items(text, user_record={"AGE": 40, "MEMBERSHIP_STATUS": "silver"}) == [1] * 6
    assert items(text, user_record={"AGE": 12, "MEMBERSHIP_STATUS": "gold"}) == [1] * 6
    assert items(text, user_record={"MEMBERSHIP_STATUS": "gold"}) == [1] * 6  # AGE missing


def test_if_clause_with_not_in_and_current_item() -> None:
    text = "EXCLUDE ItemID WHERE Items.PRICE > CurrentItem.PRICE IF CurrentUser.AGE < 18"
    assert items(text, user_record={"AGE": 12}, current_item={"PRICE": 20}) == [1, 1, 0, 1, 0, 1]
    assert items(text, user_record={"AGE": 30}, current_item={"PRICE": 20}) == [1] * 6
    text = 'INCLUDE ItemID WHERE Items.PRICE < 15 IF CurrentUser.MEMBERSHIP_STATUS NOT IN ("gold")'
    assert items(text, user_record={"MEMBERSHIP_STATUS": "bronze"}) == [1, 0, 0, 0, 0, 0]
    assert items(text, user_record={"MEMBERSHIP_STATUS": "silver|gold"}) == [1] * 6


def test_current_item_needs_a_related_items_request() -> None:
    with pytest.raises(InvalidInputException) as err:
        items("INCLUDE ItemID WHERE Items.GENRE IN CurrentItem.GENRE")
    assert "CurrentItem.GENRE" in err.value.message
    assert "can only be applied to related-items requests" in err.value.message


# ---- interactions --------------------------------------------------------------------------------------------


def test_event_types_ignore_case_and_star_matches_any() -> None:
    assert items('INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("CLICK")', history=HISTORY) == [1, 0, 0, 0, 0, 0]
    assert items("INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (*)", history=HISTORY) == [1, 0, 1, 0, 1, 0]
    assert items("EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (*)", history=HISTORY) == [0, 1, 0, 1, 0, 1]
    assert items('INCLUDE ItemID WHERE Interactions.EVENT_TYPE NOT IN ("click")', history=HISTORY) == [0, 0, 1, 0, 1, 0]


def test_interaction_conditions_hold_for_one_event() -> None:
    history = events(["i0", "i0", "i1"], ["click", "view", "click"], DEVICE=["desktop", "mobile", "tv|mobile"])
    text = 'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click") AND Interactions.DEVICE IN ("mobile")'
    assert items(text, history=history) == [0, 1, 0, 0, 0, 0]
    text = 'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("view") OR Interactions.DEVICE IN ("tv")'
    assert items(text, history=history) == [1, 1, 0, 0, 0, 0]
    text = 'INCLUDE ItemID WHERE Interactions.DEVICE IN ("tv")'  # the column is missing from this history
    assert items(text, history=events(["i0"], ["click"])) == [0] * 6


def test_history_window_keeps_100_most_recent_per_event_type() -> None:
    ids = np.array([f"j{i}" for i in range(200)], dtype=object)
    catalog = FilterCatalog.build(ids, None, None)
    clicks = [f"j{i}" for i in range(150)]  # oldest first
    history = events([*clicks, "j150", "j151"], ["Click" if i % 2 else "click" for i in range(150)] + ["view"] * 2)
    mask = _compile('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "view")').item_mask(
        catalog, history=history
    )
    assert np.flatnonzero(~mask).tolist() == list(range(50, 152))
    kept = recent_events(history.event_types, 100)
    assert kept is not None and kept.tolist() == list(range(50, 152))
    assert recent_events(["a"] * 100, 100) is None


def test_action_window_is_300() -> None:
    actions = np.array([f"a{i}" for i in range(400)], dtype=object)
    catalog = FilterCatalog.build(np.array([]), None, None, None, actions)
    history = events([f"a{i}" for i in range(350)], ["taken"] * 350)
    mask = _compile('EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("TAKEN")').action_mask(
        catalog, history=history
    )
    assert np.flatnonzero(~mask).tolist() == list(range(50, 350))


def test_user_targets_with_interactions() -> None:
    assert _compile('INCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("click")').user_mask(CATALOG).tolist() == [
        True, False, False, True,
    ]
    compiled = _compile("EXCLUDE UserID WHERE Interactions.ITEM_ID IN ($ITEM)")
    assert compiled.user_mask(CATALOG, values={"ITEM": '"i2"'}).tolist() == [False, True, True, True]
    text = 'INCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("view") AND Interactions.DEVICE IN ("tv")'
    assert _compile(text).user_mask(CATALOG).tolist() == [True, False, False, False]


def test_user_population_window() -> None:
    # u0 clicked i0 first, then 100 other items: i0 is out of the 100 most recent clicks; u1's one view counts.
    frame = pl.DataFrame(
        {
            "USER_ID": ["u0"] * 101 + ["u1"],
            "ITEM_ID": ["i0"] + [f"x{i}" for i in range(100)] + ["i0"],
            "EVENT_TYPE": ["click"] * 101 + ["view"],
            "TIMESTAMP": list(range(101)) + [5],
        }
    ).sample(fraction=1.0, shuffle=True, seed=3)  # order comes from TIMESTAMP, not from the rows
    catalog = FilterCatalog.build(np.array([]), None, None, user_ids=np.array(["u1", "u0", "u9"]), interactions=frame)
    compiled = _compile('INCLUDE UserID WHERE Interactions.ITEM_ID IN ("i0")')
    assert compiled.user_mask(catalog).tolist() == [True, False, False]
    no_users = FilterCatalog.build(np.array([]), None, None, interactions=frame)
    assert sorted(no_users.tables["UserID"].ids.tolist()) == ["u0", "u1"]
    no_events = FilterCatalog.build(np.array([]), None, USERS)  # no interactions table: nobody interacted
    assert _compile("INCLUDE UserID WHERE Interactions.EVENT_TYPE IN (*)").user_mask(no_events).tolist() == [False] * 4


# ---- caching and contract -------------------------------------------------------------------------------------


def test_metadata_masks_are_cached_and_read_only() -> None:
    catalog = FilterCatalog.build(ITEM_IDS, ITEMS, USERS)
    compiled = _compile("EXCLUDE ItemID WHERE Items.GENRE IN ($G) IF CurrentUser.AGE > 18")
    adult, child = {"AGE": 30}, {"AGE": 10}
    first = compiled.item_mask(catalog, values={"G": '"Drama"'}, user_record=adult)
    assert compiled.item_mask(catalog, values={"G": '"Drama"'}, user_record=adult) is first
    assert not first.flags.writeable
    assert compiled.item_mask(catalog, values={"G": '"Comedy"'}, user_record=adult).tolist() != first.tolist()
    assert compiled.item_mask(catalog, values={"G": '"Drama"'}, user_record=child).all()
    other = _compile("EXCLUDE ItemID WHERE Items.GENRE IN ($G) IF CurrentUser.AGE > 18")  # same text, own entry
    assert other.item_mask(catalog, values={"G": '"Drama"'}, user_record=adult) is not first


def test_current_item_values_are_part_of_the_cache_key() -> None:
    compiled = _compile("INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE")
    cheap = compiled.item_mask(CATALOG, current_item={"PRICE": 15})
    assert compiled.item_mask(CATALOG, current_item={"PRICE": 60}).tolist() == [1, 1, 0, 0, 1, 0]
    assert compiled.item_mask(CATALOG, current_item={"PRICE": 15}) is cheap


def test_history_masks_are_fresh_arrays() -> None:
    text = 'INCLUDE ItemID WHERE Items.GENRE IN ("Comedy") | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")'
    compiled = _compile(text)
    first = compiled.item_mask(CATALOG, history=HISTORY)
    assert first.flags.writeable and first.tolist() == [False, True, False, False, False, False]
    assert compiled.item_mask(CATALOG, history=events(["i1"], ["click"])).tolist() == [True, False, False, False, False, False]
    assert compiled.item_mask(CATALOG, history=HISTORY).tolist() == first.tolist()


def test_include_history_unites_with_cached_metadata() -> None:
    text = 'INCLUDE ItemID WHERE Items.GENRE IN ("Horror") | INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("view") | EXCLUDE ItemID WHERE Items.PRICE > 100'
    assert items(text, history=HISTORY) == [0, 0, 0, 0, 1, 0]


def test_target_must_match_the_request() -> None:
    with pytest.raises(InvalidInputException, match=r"The filter selects users \(UserID\); it cannot filter items"):
        _compile("EXCLUDE UserID WHERE Users.AGE < 3").item_mask(CATALOG)
    with pytest.raises(InvalidInputException, match="cannot filter actions"):
        _compile("EXCLUDE ItemID WHERE Items.PRICE < 3").action_mask(CATALOG)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('INCLUDE ItemID WHERE Items.NOPE IN ("a")', "Invalid filter: NOPE is not a column of the Items schema."),
        ("INCLUDE ItemID WHERE Items.GENRE > 3", "Invalid filter: `Items.GENRE > 3` compares a non-numeric field; use IN or NOT IN."),
        ('INCLUDE ItemID WHERE Items.PRICE IN ("cheap")', "Invalid filter: `Items.PRICE IN (\"cheap\")` lists 'cheap', which is not a number, for a numeric field."),
        ('INCLUDE ItemID WHERE Users.AGE IN ("a")', "Invalid filter: Users conditions cannot select items (ItemID)."),
        ('INCLUDE ItemID WHERE Items.PRICE < 3 | EXCLUDE UserID WHERE Users.AGE < 3', "Invalid filter: its expressions select different targets (ItemID, UserID)"),
        ("INCLUDE ItemID WHERE Items.GENRE IN CurrentItem.NOPE", "Invalid filter: NOPE is not a column of the Items schema."),
    ],
)
def test_compile_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidInputException) as err:
        _compile(text)
    assert err.value.message.startswith(message)


def test_compile_without_the_dataset() -> None:
    with pytest.raises(InvalidInputException, match="it uses Users.AGE, but the dataset group has no Users dataset"):
        compile_filter(parse_filter("EXCLUDE UserID WHERE Users.AGE < 3"), {"ITEMS": SCHEMAS["ITEMS"]})


def test_user_events_checks_lengths() -> None:
    with pytest.raises(ValueError, match="equal lengths"):
        UserEvents(["i0"], ["click", "view"])
    assert events(["i0"], ["click"], Device=["tv"]).column("DEVICE") == ["tv"]
