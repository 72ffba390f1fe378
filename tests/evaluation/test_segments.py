"""USER_SEGMENTATION evaluation (spec §9.1 item 2, §9.2): the per-user 80/20 split and hand-computed metrics."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from openpersonalize.data.schema import parse_schema
from openpersonalize.evaluation.segments import METRIC_KEYS, attribute_items, evaluate_segments
from openpersonalize.jobs.training import segment_query_columns
from openpersonalize.recipes._validation import segment_size, split_per_user
from openpersonalize.recipes.base import TrainingData


def _data(rows: list[tuple[str, str, int]], items: pl.DataFrame | None = None) -> TrainingData:
    frame = pl.DataFrame(rows, schema=["USER_ID", "ITEM_ID", "TIMESTAMP"], orient="row")
    return TrainingData.from_frames(frame, items)


def test_split_keeps_the_oldest_80_percent_of_every_user() -> None:
    rows = [("a", f"i{k}", 100 - k) for k in range(5)]  # newest first in the input: order comes from time
    rows += [("b", "i0", 1)] + [("c", "i1", 1), ("c", "i2", 2)] + [("d", f"i{k}", k) for k in range(10)]
    data = _data(rows)
    train, test = split_per_user(data)
    held = {(str(data.user_ids[u]), int(t)) for u, t in zip(data.user_idx[test], data.timestamp[test], strict=True)}
    # a: 5 events → 4 train, the newest (t=100) test; b: 1 → train; c: round(1.6) = 2 → both train; d: 8 + 2.
    assert held == {("a", 100), ("d", 8), ("d", 9)}
    assert train.n_interactions == data.n_interactions - 3
    assert np.array_equal(train.user_ids, data.user_ids)  # id maps unchanged: segments name every user


def test_segment_size_is_one_percent_rounded_up() -> None:
    assert [segment_size(n) for n in (1, 99, 100, 101, 250)] == [1, 1, 1, 2, 3]


class _Fixed:
    """A segment model that always returns the same users (to hand-compute the metrics)."""

    def __init__(self, users: list[str]) -> None:
        self.users = users
        self.fitted_rows = -1

    def fit(self, data: TrainingData) -> _Fixed:
        self.fitted_rows = data.n_interactions
        return self

    def users_for_items(self, item_ids: list[str], *, num_results: int) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.users[:num_results]), np.ones(min(num_results, len(self.users)))

    def users_for_attributes(self, expression: str, *, num_results: int) -> tuple[np.ndarray, np.ndarray]:
        return self.users_for_items([], num_results=num_results)


def _segment_fixture() -> TrainingData:
    """150 users (K = 2); u0–u3 have 5 events each, so their newest one is the test set: x, x, x, y."""
    rows = [(f"u{k:03d}", "z", 1) for k in range(150)]
    for user, last in (("u000", "x"), ("u001", "x"), ("u002", "x"), ("u003", "y")):
        rows += [(user, "z", 2), (user, "z", 3), (user, "z", 4), (user, last, 5)]
    items = pl.DataFrame({"ITEM_ID": ["x", "y", "z"], "GENRE": ["A|B", "B", "C"]})
    return _data(rows, items)


def test_item_metrics_by_hand() -> None:
    data = _segment_fixture()
    model = _Fixed(["u000", "u003"])
    metrics = evaluate_segments(model, data, task="items").metrics
    assert model.fitted_rows == data.n_interactions - 4
    # x: relevant {u0,u1,u2}, top-2 {u0,u3} → 1 hit, recall 1/3; y: relevant {u3} → 1 hit, recall 1.
    assert metrics == pytest.approx({"coverage": 2 / 150, "hits_at_1_percent": 1.0, "recall_at_1_percent": (1 / 3 + 1) / 2})
    assert set(metrics) == set(METRIC_KEYS)


def test_attribute_metrics_by_hand() -> None:
    data = _segment_fixture()
    metrics = evaluate_segments(_Fixed(["u001", "u002"]), data, task="attributes").metrics
    # GENRE A: items {x} → {u0,u1,u2}: 2 hits, recall 2/3; B: {x,y} → {u0..u3}: 2, 1/2; C: no test rows.
    expected = {"coverage": 2 / 150, "hits_at_1_percent": 2.0, "recall_at_1_percent": (2 / 3 + 1 / 2) / 2}
    assert metrics == pytest.approx(expected)


def test_unknown_task_and_no_queries() -> None:
    data = _segment_fixture()
    with pytest.raises(ValueError, match="'task' parameter must be one of"):
        evaluate_segments(_Fixed([]), data, task="actions")
    single = _data([("a", "x", 1), ("b", "y", 1)])  # one event each: nothing is held out
    assert evaluate_segments(_Fixed(["a"]), single).metrics == dict.fromkeys(METRIC_KEYS, 0.0)


def test_attribute_items_drops_textual_columns_and_needs_one_attribute() -> None:
    schema = parse_schema(
        '{"type": "record", "name": "Items", "namespace": "com.amazonaws.personalize.schema", "version": "1.0",'
        ' "fields": [{"name": "ITEM_ID", "type": "string"}, {"name": "GENRE", "type": "string", "categorical": true},'
        ' {"name": "DESCRIPTION", "type": ["null", "string"], "textual": true},'
        ' {"name": "CREATION_TIMESTAMP", "type": "long"}]}'
    )
    items = pl.DataFrame({"ITEM_ID": ["x"], "GENRE": ["A"], "DESCRIPTION": ["long text"], "CREATION_TIMESTAMP": [1]})
    assert attribute_items(items, schema).columns == ["ITEM_ID", "GENRE", "CREATION_TIMESTAMP"]
    with pytest.raises(ValueError, match="at least one non-textual, non-reserved metadata column"):
        attribute_items(items.drop("GENRE"), schema)
    with pytest.raises(ValueError, match="needs an Items dataset"):
        attribute_items(None, None)


def test_attribute_segments_are_judged_on_the_columns_personalize_trains_on() -> None:
    """A plain-string title is one attribute per item: its queries would be item queries, so only categorical and
    numeric columns are asked about, while the model still indexes every column a segment job may name."""
    schema = parse_schema(
        '{"type": "record", "name": "Items", "namespace": "com.amazonaws.personalize.schema", "version": "1.0",'
        ' "fields": [{"name": "ITEM_ID", "type": "string"}, {"name": "GENRE", "type": "string", "categorical": true},'
        ' {"name": "TITLE", "type": "string", "itemName": true}, {"name": "YEAR", "type": "int"},'
        ' {"name": "DESCRIPTION", "type": ["null", "string"], "textual": true}]}'
    )
    assert segment_query_columns(schema) == ["GENRE", "YEAR"]
    assert segment_query_columns(None) is None

    data = _segment_fixture()
    titled = replace(data, items=data.items.with_columns(TITLE=pl.Series(["Film X", "Film Y", "Film Z"])))
    model = _Fixed(["u001", "u002"])
    by_genre = evaluate_segments(model, titled, task="attributes", query_columns=["GENRE"]).metrics
    assert by_genre == evaluate_segments(model, data, task="attributes").metrics  # as computed by hand above
    assert evaluate_segments(model, titled, task="attributes").metrics != by_genre  # titles asked about too
