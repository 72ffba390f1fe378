"""TrainingData: id maps, chronological order per user, catalogue from Items, matrices."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from openpersonalize.recipes.base import TrainingData


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "USER_ID": ["b", "a", "a", "b", "a"],
            "ITEM_ID": ["x", "y", "x", "z", "y"],
            "TIMESTAMP": [5, 3, 1, 2, 3],
            "EVENT_TYPE": ["click", "watch", "click", "click", "click"],
            "EVENT_VALUE": [1.0, None, 2.0, None, 0.5],
        }
    )


def test_sorted_per_user_by_time_input_order_breaks_ties() -> None:
    data = TrainingData.from_frames(_frame())
    assert list(data.user_ids) == ["a", "b"] and list(data.event_types) == ["click", "watch"]
    assert list(data.user_idx) == [0, 0, 0, 1, 1]
    assert list(data.item_ids[data.item_idx]) == ["x", "y", "y", "z", "x"]
    assert list(data.timestamp) == [1, 3, 3, 2, 5]
    assert list(data.event_types[data.event_type]) == ["click", "watch", "click", "click", "click"]
    assert np.isnan(data.event_value[1]) and data.event_value[0] == 2.0
    assert list(data.user_offsets()) == [0, 3, 5]


def test_items_table_extends_the_catalogue_and_aligns_features() -> None:
    items = pl.DataFrame({"ITEM_ID": ["w", "x"], "GENRE": ["drama", "comedy"]})
    data = TrainingData.from_frames(_frame(), items=items)
    assert list(data.item_ids) == ["w", "x", "y", "z"]
    assert data.items is not None and data.items["GENRE"].to_list() == ["drama", "comedy", None, None]
    assert list(data.item_counts()) == [0, 2, 1, 1]  # distinct users, repeats counted once
    assert list(data.index_items(["z", "nope"])) == [3, -1]


def test_user_item_matrix_keeps_max_weight_of_repeats() -> None:
    data = TrainingData.from_frames(_frame())
    dense = data.user_item_matrix().toarray()
    np.testing.assert_array_equal(dense, [[1, 1, 0], [1, 0, 1]])
    weighted = data.user_item_matrix(weights=np.arange(1, 6, dtype=np.float32)).toarray()
    assert weighted[0, 1] == 3.0  # user a saw y twice with weights 2 and 3


def test_missing_columns_named() -> None:
    with pytest.raises(ValueError, match=r"\['TIMESTAMP'\]"):
        TrainingData.from_frames(pl.DataFrame({"USER_ID": ["a"], "ITEM_ID": ["x"]}))


def test_without_event_type_column() -> None:
    data = TrainingData.from_frames(_frame().drop("EVENT_TYPE", "EVENT_VALUE"))
    assert list(data.event_types) == [""] and set(data.event_type) == {0}
    assert np.isnan(data.event_value).all()
