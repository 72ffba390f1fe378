"""Recipe.update: a fitted model refreshed with new items and events keeps its learnt state (spec §2.5, §3.4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from openpersonalize.demo.generator import generate_vod
from openpersonalize.recipes import semantic
from openpersonalize.recipes.base import Recipe, TrainingData
from openpersonalize.recipes.popularity import PopularityCount
from openpersonalize.recipes.semantic import SemanticSimilarity
from openpersonalize.recipes.user_personalization import UserPersonalization

NEW = "zz-new-item"  # sorts after every generated id: the catalogue order of old items shifts for none


def _frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    data = generate_vod(users=120, items=80, interactions=3000, seed=5)
    return data.interactions, data.items


def _with_new_item(interactions: pl.DataFrame, items: pl.DataFrame, new_id: str) -> TrainingData:
    """The same data plus a new item that 30 users just watched (it is the newest event of each)."""
    users = interactions["USER_ID"].unique().sort().head(30).to_list()
    latest = int(interactions["TIMESTAMP"].max())
    extra = pl.DataFrame({"USER_ID": users, "ITEM_ID": [new_id] * len(users),
                          "TIMESTAMP": [latest + 60 + i for i in range(len(users))]})
    added = pl.concat([interactions, extra.with_columns(
        [pl.lit(None, dtype=interactions.schema[c]).alias(c) for c in interactions.columns if c not in extra.columns]
    ).select(interactions.columns)])
    new_row = items.head(1).with_columns(pl.lit(new_id).alias("ITEM_ID"))
    return TrainingData.from_frames(added, pl.concat([items, new_row]))


@pytest.mark.parametrize("new_id", [NEW, "0-new-item"])  # after, and before, every old id in the catalogue
def test_user_personalization_update_adds_items_and_keeps_the_matrices(new_id: str, tmp_path: Path) -> None:
    interactions, items = _frames()
    model = UserPersonalization().fit(TrainingData.from_frames(interactions, items))
    transition, ease, modelled = model.transition_.copy(), model.ease_.copy(), model.item_ids_[model.vocabulary_]
    assert new_id not in set(model.item_ids_)
    assert new_id not in set(model.recommend([], num_results=500)[0])

    model.update(_with_new_item(interactions, items, new_id))
    assert np.array_equal(model.transition_, transition) and np.array_equal(model.ease_, ease)  # no refit
    assert np.array_equal(model.item_ids_[model.vocabulary_], modelled)  # same items in the matrices
    assert len(model.repeat_items_) == len(model.item_ids_) == int(model.n_items_)
    assert new_id in set(model.recommend([], num_results=500)[0])  # 30 users: popular now
    history = [str(i) for i in interactions["ITEM_ID"].head(5)]
    assert new_id in set(model.recommend(history, num_results=500)[0])
    model.save(tmp_path)
    loaded = Recipe.load(tmp_path)
    assert np.array_equal(loaded.recommend(history)[0], model.recommend(history)[0])


def test_old_items_rank_the_same_after_an_update_without_new_events() -> None:
    interactions, items = _frames()
    data = TrainingData.from_frames(interactions, items)
    model = UserPersonalization().fit(data)
    history = [str(i) for i in interactions["ITEM_ID"].tail(8)]
    before = model.recommend(history, num_results=20)
    model.update(data)
    after = model.recommend(history, num_results=20)
    assert np.array_equal(before[0], after[0])


def test_recipes_without_an_update_say_so() -> None:
    interactions, _ = _frames()
    model = PopularityCount().fit(TrainingData.from_frames(interactions))
    with pytest.raises(NotImplementedError, match="PopularityCount cannot be updated incrementally"):
        model.update(TrainingData.from_frames(interactions))


def _catalogue(titles: dict[str, str]) -> TrainingData:
    items = pl.DataFrame({"ITEM_ID": list(titles), "TITLE": list(titles.values())})
    empty = pl.DataFrame(schema={"USER_ID": pl.String, "ITEM_ID": pl.String, "TIMESTAMP": pl.Int64})
    return TrainingData.from_frames(empty, items, item_roles={"TITLE": "item_name"})


def test_semantic_update_embeds_only_new_and_changed_items(monkeypatch: pytest.MonkeyPatch) -> None:
    titles = {"a": "a red sports car", "b": "chocolate cake recipe", "c": "a fast racing automobile", "d": "gardening tips"}
    model = SemanticSimilarity().fit(_catalogue(titles))
    kept = model.embeddings_[model._indices(["a", "c"])].copy()
    embedded: list[str] = []
    real = semantic.embed_texts

    def counting(texts: np.ndarray) -> np.ndarray:
        embedded.extend(str(t) for t in texts)
        return real(texts)

    monkeypatch.setattr(semantic, "embed_texts", counting)
    changed = {**titles, "b": "growing tomatoes in the garden", "e": "baking a strawberry cake"}
    model.update(_catalogue(changed))
    assert sorted(embedded) == ["baking a strawberry cake", "growing tomatoes in the garden"]
    assert int(model.embedded_last_update_) == 2
    assert np.array_equal(model.embeddings_[model._indices(["a", "c"])], kept)
    assert model.similar_items("b", num_results=1)[0][0] == "d"  # the changed text is what counts now
    assert "e" in set(model.similar_items("a", num_results=4)[0])  # the new item is returnable
    embedded.clear()
    model.update(_catalogue(changed))
    assert embedded == []  # nothing changed: nothing embedded


def test_items_beyond_the_vocabulary_keep_their_tail_vectors() -> None:
    interactions, items = _frames()
    model = UserPersonalization(max_vocabulary=20).fit(TrainingData.from_frames(interactions, items))
    tail = model.item_ids_[model.tail_items_]
    assert len(tail) > 0
    history = [str(i) for i in interactions["ITEM_ID"].head(5)]
    before = model.recommend(history, num_results=30)[0]
    model.update(_with_new_item(interactions, items, "0-new-item"))  # shifts every old item's position
    assert np.array_equal(model.item_ids_[model.tail_items_], tail)
    after = model.recommend(history, num_results=30)[0]
    assert len(set(before) & set(after)) >= 25  # the same model: only popularity discounts were recounted
