"""Item-Affinity and Item-Attribute-Affinity: segments on planted tastes, queries, expressions, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from openpersonalize.demo.generator import GeneratedData, generate_vod
from openpersonalize.evaluation.segments import MostActiveUsers, evaluate_segments
from openpersonalize.recipes._attributes import AttributeExpressionError, parse_expression
from openpersonalize.recipes.affinity import ItemAffinity, ItemAttributeAffinity
from openpersonalize.recipes.base import InvalidParameterError, NotFittedError, QueryError, Recipe, TrainingData


@pytest.fixture(scope="module")
def vod() -> GeneratedData:
    return generate_vod(users=500, items=250, interactions=10_000, seed=3)


@pytest.fixture(scope="module")
def data(vod: GeneratedData) -> TrainingData:
    return TrainingData.from_frames(vod.interactions, vod.items.drop("DESCRIPTION"))


@pytest.fixture(scope="module")
def fitted(data: TrainingData) -> ItemAttributeAffinity:
    return ItemAttributeAffinity(random_seed=1).fit(data)


@pytest.mark.parametrize("task", ["items", "attributes"])
def test_beats_the_most_active_users_on_planted_tastes(data: TrainingData, task: str) -> None:
    model = ItemAttributeAffinity(random_seed=1) if task == "attributes" else ItemAffinity(random_seed=1)
    ours = evaluate_segments(model, data, task=task).metrics
    baseline = evaluate_segments(MostActiveUsers(), data, task=task).metrics
    assert ours["hits_at_1_percent"] > 1.5 * baseline["hits_at_1_percent"]
    assert ours["recall_at_1_percent"] > 1.5 * baseline["recall_at_1_percent"]
    assert ours["coverage"] > baseline["coverage"]


def test_segment_users_like_the_item_topic(vod: GeneratedData, fitted: ItemAttributeAffinity) -> None:
    truth = vod.truth
    position = {u: k for k, u in enumerate(truth.user_ids.astype(str))}
    popular = np.argsort(-truth.item_popularity)[:20]
    shares = []
    for item in popular:
        users, _ = fitted.users_for_items([str(truth.item_ids[item])], num_results=20)
        topic = truth.item_primary_topic[item]
        shares.append(np.mean([truth.user_tastes[position[u], topic] > 0.1 for u in users]))
    base_rate = np.mean(truth.user_tastes[:, truth.item_primary_topic[popular]] > 0.1)
    assert np.mean(shares) > 2 * base_rate  # segments are drawn from the item's planted audience


def test_users_for_items_contract(fitted: ItemAttributeAffinity, data: TrainingData) -> None:
    item = str(data.item_ids[0])
    users, scores = fitted.users_for_items([item], num_results=7)
    assert len(users) == 7 and len(set(users)) == 7 and np.all(np.diff(scores) <= 0)
    again, _ = fitted.users_for_items([item], num_results=7, exclude_user_ids=[str(users[0])])
    assert str(users[0]) not in again
    only, _ = fitted.users_for_items([item], num_results=7, candidate_user_ids=[str(users[3]), "nobody"])
    assert only.tolist() == [users[3]]
    assert len(fitted.users_for_items([item], num_results=10_000)[0]) == data.n_users
    with pytest.raises(QueryError, match=r"\['no-such-item'\] were not in the training data"):
        fitted.users_for_items([item, "no-such-item"])


def test_an_item_without_interactions_gets_the_most_active_users() -> None:
    rows = [("heavy", "i0", 1), ("heavy", "i1", 2), ("heavy", "i0", 3), ("light", "i1", 4)]
    frame = pl.DataFrame(rows, schema=["USER_ID", "ITEM_ID", "TIMESTAMP"], orient="row")
    items = pl.DataFrame({"ITEM_ID": ["i0", "i1", "cold"], "GENRES": ["A", "B", "C"]})
    model = ItemAffinity(hidden_dimension=32, iterations=2).fit(TrainingData.from_frames(frame, items))
    assert model.users_for_items(["cold"])[0].tolist() == ["heavy", "light"]


def _favourites(*, come_back: bool) -> TrainingData:
    """300 users over 60 weeks: each has 5 favourite items of 200. With ``come_back`` they return to them every
    week; without, each (user, item) occurs once (as MovieLens ratings do) and the weeks bring new items."""
    rng = np.random.default_rng(7)
    rows = []
    for user in range(300):
        favourites = rng.choice(200, size=5, replace=False)
        for week in range(60 if come_back else 1):
            picked = favourites if come_back else rng.choice(200, size=40, replace=False)
            rows += [(f"u{user}", f"i{i}", 1_600_000_000 + 604_800 * week + n, "click") for n, i in enumerate(picked)]
    frame = pl.DataFrame(rows, schema=["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"], orient="row")
    return TrainingData.from_frames(frame)


def test_users_who_never_come_back_to_an_item_are_not_its_segment() -> None:
    data = _favourites(come_back=False)
    model = ItemAffinity(random_seed=0).fit(data)
    assert float(model.seen_weight_) == 0.0  # no (user, item) twice: decided without a validation fit
    item = str(data.item_ids[0])
    had_it = set(data.user_ids[data.user_idx[data.item_idx == 0]].tolist())
    users, _ = model.users_for_items([item], num_results=20)
    assert not had_it & set(users.tolist())
    assert set(model.users_for_items([item], num_results=300)[0][-len(had_it):].tolist()) == had_it  # ranked last


def test_users_who_come_back_keep_their_items() -> None:
    data = _favourites(come_back=True)
    model = ItemAffinity(random_seed=0).fit(data)
    assert float(model.seen_weight_) == 1.0  # chosen on the newest 20 %: the regulars are who comes next
    item = str(data.item_ids[0])
    had_it = set(data.user_ids[data.user_idx[data.item_idx == 0]].tolist())
    users, _ = model.users_for_items([item], num_results=3)
    assert set(users.tolist()) <= had_it


def test_attribute_queries(fitted: ItemAttributeAffinity, vod: GeneratedData) -> None:
    genres = vod.items["GENRES"].str.split("|").explode()
    common = genres.value_counts(sort=True)["GENRES"][0]
    users, scores = fitted.users_for_attributes(f'ITEMS.genres = "{common}"', num_results=5)
    assert len(users) == 5 and np.all(np.diff(scores) <= 0)
    with pytest.raises(QueryError, match="ITEMS.COLOUR is not an attribute column.*ITEMS.GENRES"):
        fitted.users_for_attributes('ITEMS.COLOUR = "red"')
    with pytest.raises(QueryError, match="No item in the training data has all the attributes"):
        fitted.users_for_attributes('ITEMS.GENRES = "Opera"')
    with pytest.raises(QueryError, match="at character 13: expected '='"):
        fitted.users_for_attributes("ITEMS.GENRES > 3")


def test_and_intersects_and_numbers_match_in_any_spelling() -> None:
    rows = [(f"u{u}", f"i{i}", u * 10 + i) for u in range(6) for i in range(4)]
    frame = pl.DataFrame(rows, schema=["USER_ID", "ITEM_ID", "TIMESTAMP"], orient="row")
    items = pl.DataFrame({"ITEM_ID": ["i0", "i1", "i2", "i3"], "GENRES": ["Comedy|Action", "Comedy", "Action", None],
                          "YEAR": [1999, 1999, 2001, 2001], "CREATION_TIMESTAMP": [1, 2, 3, 4]})
    model = ItemAttributeAffinity(hidden_dimension=32, iterations=2).fit(TrainingData.from_frames(frame, items))
    index = model.attributes
    assert index.columns.tolist() == ["GENRES", "YEAR"]  # CREATION_TIMESTAMP is reserved
    both = 'ITEMS.GENRES = "Comedy" AND items.genres = "Action"'
    assert index.matching_items(both).tolist() == [0]
    assert index.matching_items("ITEMS.YEAR = 1999.0").tolist() == [0, 1]
    assert index.matching_items('ITEMS.YEAR = "2001" and ITEMS.GENRES = "Action"').tolist() == [2]
    with pytest.raises(AttributeExpressionError, match="numeric but the expression compares it with 'new'"):
        index.matching_items('ITEMS.YEAR = "new"')


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "empty"),
        ('GENRES = "Comedy"', "at character 1: expected ITEMS.<column>"),
        ('ITEMS.GENRES = "Comedy" OR ITEMS.GENRES = "Drama"', "expected AND between terms"),
        ('ITEMS.GENRES = "Comedy" AND', "at character 28"),
        ("ITEMS.GENRES = Comedy", "at character 16: expected a double-quoted string or a number"),
        ('ITEMS.GENRES IN ("Comedy")', "at character 13: expected '=' \\(only '=' comparisons"),
        ("ITEMS. = 3", "at character 8: expected a column name"),
        ("x" * 3000, "at most 2500"),
    ],
)
def test_bad_expressions_are_rejected_with_the_place(expression: str, message: str) -> None:
    with pytest.raises(AttributeExpressionError, match=message):
        parse_expression(expression)


def test_quoted_values_keep_escapes() -> None:
    terms = parse_expression(r'ITEMS.TITLE = "Say \"hi\"" AND ITEMS.N = -2.5')
    assert [(t.column, t.value) for t in terms] == [("TITLE", 'Say "hi"'), ("N", "-2.5")]


def test_save_load_round_trip(fitted: ItemAttributeAffinity, data: TrainingData, tmp_path: Path) -> None:
    fitted.save(tmp_path / "model")
    loaded = Recipe.load(tmp_path / "model")
    assert isinstance(loaded, ItemAttributeAffinity) and loaded.get_params() == fitted.get_params()
    item = [str(data.item_ids[5])]
    assert loaded.users_for_items(item)[0].tolist() == fitted.users_for_items(item)[0].tolist()
    query = 'ITEMS.GENRES = "Drama"'
    assert loaded.users_for_attributes(query)[0].tolist() == fitted.users_for_attributes(query)[0].tolist()


def test_unfitted_bad_parameters_and_missing_items(data: TrainingData) -> None:
    with pytest.raises(NotFittedError):
        ItemAffinity().users_for_items(["i1"])
    with pytest.raises(InvalidParameterError, match="'hidden_dimension' parameter of ItemAffinity"):
        ItemAffinity(hidden_dimension=0).fit(data)
    bare = TrainingData.from_frames(pl.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["i"], "TIMESTAMP": [1]}))
    with pytest.raises(ValueError, match="needs an Items dataset with at least one non-textual"):
        ItemAttributeAffinity().fit(bare)


def test_users_without_interactions_get_segments_too() -> None:
    """A Users dataset can name users who never interacted: they sit last in the matrix with no items."""
    rows = [("a", "x", 1), ("a", "y", 2), ("a", "x", 3), ("b", "y", 4), ("c", "z", 5)]
    frame = pl.DataFrame(rows, schema=["USER_ID", "ITEM_ID", "TIMESTAMP"], orient="row")
    data = TrainingData.from_frames(frame, None, pl.DataFrame({"USER_ID": ["a", "b", "c", "zz"]}))
    model = ItemAffinity(hidden_dimension=32, iterations=2, seen_weight=0.0).fit(data)
    users, _ = model.users_for_items(["y"], num_results=4)
    assert users[0] == "c" and sorted(users.tolist()) == ["a", "b", "c", "zz"]
