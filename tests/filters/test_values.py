"""filterValues parsing (spec §7.2) and the column encodings every filter condition is evaluated on."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from openpersonalize.errors import InvalidInputException
from openpersonalize.filters.values import (
    Column,
    FilterCatalog,
    number_text,
    parse_filter_values,
    placeholder_numbers,
    split_value,
    to_number,
)

# ---- filterValues --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"comedy","drama"', ["comedy", "drama"]),
        ('"Comedy"', ["Comedy"]),
        (' "a" ,  "b" ', ["a", "b"]),
        ("25", ["25"]),
        ("-1.5", ["-1.5"]),
        ('"25"', ["25"]),
        ('"click, rating"', ["click, rating"]),  # one literal holding a comma (spec §7.2 ambiguity 3)
        ('"say \\"hi\\""', ['say "hi"']),  # JSON escapes
        ('""', [""]),
    ],
)
def test_parse_filter_value_encodings(text: str, expected: list[str]) -> None:
    assert parse_filter_values({"P": text}) == {"P": expected}


def test_parse_several_keys() -> None:
    parsed = parse_filter_values({"GENRE": '"Comedy","Drama"', "AGE": "25"})
    assert parsed == {"GENRE": ["Comedy", "Drama"], "AGE": ["25"]}


@pytest.mark.parametrize(
    "text",
    ["comedy", '"a",', "", "   ", "1,2", '"a",1', "true", "null", '["a"]', '"a" "b"', "'a'", "{}"],
)
def test_malformed_values_name_the_key(text: str) -> None:
    with pytest.raises(InvalidInputException) as err:
        parse_filter_values({"GENRE": '"ok"', "MY_KEY": text})
    assert "Invalid filter value for MY_KEY" in err.value.message
    assert "double-quoted strings" in err.value.message


def test_bad_key_length_and_count() -> None:
    with pytest.raises(InvalidInputException, match="Invalid filterValues key 'a-b'"):
        parse_filter_values({"a-b": '"x"'})
    with pytest.raises(InvalidInputException, match="Invalid filterValues key"):
        parse_filter_values({"K" * 51: '"x"'})
    with pytest.raises(InvalidInputException, match="Invalid filter value for K: expected a string of at most 1000"):
        parse_filter_values({"K": '"' + "x" * 1000 + '"'})
    with pytest.raises(InvalidInputException, match="filterValues has 26 entries; at most 25"):
        parse_filter_values({f"K{i}": '"x"' for i in range(26)})


def test_numbers() -> None:
    assert number_text(5.0) == "5" and number_text(1.5) == "1.5" and number_text(-2.0) == "-2"
    assert to_number("2.5") == 2.5 and to_number("x") is None and to_number("nan") is None and to_number(None) is None
    assert placeholder_numbers("PRICE", ["1", "2.5"], "`Items.PRICE <= $PRICE`") == [1.0, 2.5]
    with pytest.raises(InvalidInputException) as err:
        placeholder_numbers("PRICE", ["cheap"], "`Items.PRICE <= $PRICE`")
    assert err.value.message == (
        "Invalid filter value for PRICE: 'cheap' is not a number, but `Items.PRICE <= $PRICE` compares a numeric field."
    )


def test_split_value() -> None:
    assert split_value("a|b||c", categorical=True) == ["a", "b", "c"]
    assert split_value("a|b", categorical=False) == ["a|b"]
    assert split_value(None, categorical=True) == []
    assert split_value(3.0, categorical=False) == ["3"]


# ---- columns --------------------------------------------------------------------------------------------------

STRINGS = ["a|b", "b", None, "c", "", "a", "b|c|a"]


def _both(values: list[object], **kwargs: bool) -> list[Column]:
    """The same values encoded for catalogues (polars) and for histories/records (Python)."""
    return [Column.from_series(pl.Series(values), **kwargs), Column.from_values(values, **kwargs)]


@pytest.mark.parametrize("column", _both(STRINGS, numeric=False, categorical=True))
def test_multi_valued_categorical(column: Column) -> None:
    assert column.isin(["a"]).tolist() == [True, False, False, False, False, True, True]
    assert column.isin(["b", "zzz"]).tolist() == [True, True, False, False, False, False, True]
    # NOT IN: a value exists and none of the record's values is listed; null and "" satisfy nothing.
    assert column.not_in(["a"]).tolist() == [False, True, False, True, False, False, False]
    assert column.isin([]).tolist() == [False] * 7


@pytest.mark.parametrize("column", _both(STRINGS, numeric=False, categorical=False))
def test_non_categorical_strings_are_whole_values(column: Column) -> None:
    assert column.isin(["a|b"]).tolist() == [True, False, False, False, False, False, False]
    assert column.isin(["a"]).tolist() == [False, False, False, False, False, True, False]
    assert column.not_in(["b"]).tolist() == [True, False, False, True, True, True, True]


@pytest.mark.parametrize("column", _both(["Click", "VIEW", None, "click"], numeric=False, categorical=False, casefold=True))
def test_casefold(column: Column) -> None:
    assert column.isin(["CLICK"]).tolist() == [True, False, False, True]
    assert column.not_in(["click"]).tolist() == [False, True, False, False]


@pytest.mark.parametrize("column", _both(["Click", "click"], numeric=False, categorical=False))
def test_exact_strings_without_casefold(column: Column) -> None:
    assert column.isin(["click"]).tolist() == [False, True]


@pytest.mark.parametrize("column", _both([1.0, 5.0, None, 10.0], numeric=True, categorical=False))
def test_numeric(column: Column) -> None:
    assert column.compare("<=", 5).tolist() == [True, True, False, False]
    assert column.compare(">", 1).tolist() == [False, True, False, True]
    assert column.compare("=", 10).tolist() == [False, False, False, True]
    assert column.compare("!=", 5).tolist() == [True, False, False, True]  # null is not "!= 5"
    assert column.isin([1.0, 10.0]).tolist() == [True, False, False, True]
    assert column.not_in([1.0]).tolist() == [False, True, False, True]


def test_numeric_values_from_strings_and_garbage() -> None:
    column = Column.from_values(["3", 4, "x", True, None], numeric=True, categorical=False)
    assert column.compare(">=", 3).tolist() == [True, True, False, False, False]
    column = Column.from_series(pl.Series(["3", "x", None]), numeric=True, categorical=False)
    assert column.compare(">=", 3).tolist() == [True, False, False]


def test_compare_needs_numbers() -> None:
    with pytest.raises(TypeError):
        Column.from_values(["a"], numeric=False, categorical=False).compare("<", 1)


def test_missing_column() -> None:
    assert Column.missing(3, numeric=False).isin(["a"]).tolist() == [False] * 3
    assert Column.missing(3, numeric=False).not_in(["a"]).tolist() == [False] * 3
    assert Column.missing(3, numeric=True).compare("!=", 1).tolist() == [False] * 3


def test_random_encodings_agree() -> None:
    """Catalogue (polars) and history (Python) encodings give the same answers on random data."""
    rng = np.random.default_rng(7)
    words = ["a", "b", "c", "d", "A"]
    for _ in range(20):
        values: list[object] = [
            None if rng.random() < 0.2 else "|".join(rng.choice(words, size=rng.integers(1, 4))) for _ in range(30)
        ]
        wanted = list(rng.choice(words, size=2))
        for casefold in (False, True):
            fast, small = _both(values, numeric=False, categorical=True, casefold=casefold)
            assert fast.isin(wanted).tolist() == small.isin(wanted).tolist()
            assert fast.not_in(wanted).tolist() == small.not_in(wanted).tolist()


# ---- catalogue alignment --------------------------------------------------------------------------------------


def test_catalogue_aligns_records_with_candidate_order() -> None:
    items = pl.DataFrame(
        {
            "ITEM_ID": ["c", "a", "zz", "a"],  # zz is not a candidate; a appears twice: the last record wins
            "GENRE": ["x", "old", "x", "y|x"],
            "PRICE": [3.0, 1.0, 9.0, 2.0],
        }
    )
    catalog = FilterCatalog.build(np.array(["a", "b", "c"], dtype=object), items, None)
    table = catalog.tables["ItemID"]
    genre = table.column("GENRE", numeric=False, categorical=True)
    assert genre.isin(["x"]).tolist() == [True, False, True]
    assert genre.isin(["old"]).tolist() == [False, False, False]
    assert genre.present().tolist() == [True, False, True]  # b has no record
    assert table.column("PRICE", numeric=True, categorical=False).compare("<", 3).tolist() == [True, False, False]
    assert table.column("NOPE", numeric=True, categorical=False).compare("<", 3).tolist() == [False] * 3
    assert catalog.item_record("a") == {"ITEM_ID": "a", "GENRE": "y|x", "PRICE": 2.0}
    assert catalog.item_record("b") is None and catalog.item_record("q") is None
    assert table.positions(["c", "q", "a"]).tolist() == [2, 0]


def test_catalogue_without_frames() -> None:
    catalog = FilterCatalog.build(np.array(["a", "b"]), None, None)
    assert catalog.size("ItemID") == 2 and catalog.size("UserID") == 0 and catalog.size("ActionID") == 0
    assert catalog.tables["ItemID"].column("G", numeric=False, categorical=True).isin(["x"]).tolist() == [False, False]
    users = pl.DataFrame({"USER_ID": ["u2", "u1", "u2"], "AGE": [1, 2, 3]})
    assert FilterCatalog.build(np.array([]), None, users).tables["UserID"].ids.tolist() == ["u2", "u1"]
