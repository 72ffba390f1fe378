"""serving/recommend.py without a server: per-model score and ranking caches, cached and fresh answers agree,
filters, related items, exploration and promotions around ranking.py."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest

from openpersonalize import ranking
from openpersonalize.recipes._data import TrainingData
from openpersonalize.recipes.sims import SIMS
from openpersonalize.serving import recommend
from openpersonalize.serving.models import Catalog, ServedModel
from openpersonalize.serving.realtime import GroupHistory, UserHistory

DAY = 86400


def _frame() -> pl.DataFrame:
    rng = np.random.default_rng(0)
    users = rng.integers(0, 40, 600)
    items = (users % 5) * 6 + rng.integers(0, 6, 600)  # five tastes of six items
    return pl.DataFrame({"USER_ID": [f"u{u}" for u in users], "ITEM_ID": [f"i{i:02d}" for i in items],
                         "TIMESTAMP": np.sort(rng.integers(0, 100 * DAY, 600))})


def _model(kind: str = "USER_PERSONALIZATION", new_items: int = 0) -> ServedModel:
    frame = _frame()
    recipe = SIMS().fit(TrainingData.from_frames(frame))
    history = GroupHistory(frame)
    ids = np.concatenate([recipe.item_ids_, np.array([f"new{i}" for i in range(new_items)], dtype=str)])
    counts = np.concatenate([recipe.item_counts_, np.zeros(new_items, np.int64)])
    created = np.full(len(ids), np.nan)
    catalog = Catalog(ids, len(recipe.item_ids_), counts, created, None, {})
    return ServedModel("arn:v", "arn:r", kind, "arn:g", recipe, catalog, history)


def _ids(answer: list[dict[str, Any]]) -> list[str]:
    return [entry["itemId"] for entry in answer]


def test_scores_and_rankings_are_cached_on_the_model_and_reused() -> None:
    model = _model()
    query = recommend.Query("u3", num_results=5)
    first = recommend.recommend(model, query, model.history.get("u3"))
    again = recommend.recommend(model, query, model.history.get("u3"))
    assert first == again and len(first) == 5
    assert model.scores.stats().entries == 1 and model.scores.stats().hits >= 1
    assert model.ranks.stats().entries == 1 and model.ranks.stats().hits >= 1
    assert _model().scores.stats().entries == 0  # another model: its own caches


def test_the_cached_ranking_answers_as_ranking_top_k_over_fresh_scores() -> None:
    model = _model()
    history = model.history.get("u7")
    cached = recommend.user_scores(model, "u7", history, {})
    assert not cached.flags.writeable
    fresh = cached.copy()  # a per-request copy (as after an impression demotion) skips the ranking cache
    mask = np.arange(len(cached)) % 3 != 0
    for scores in (cached, fresh):
        picked = recommend._top(model, scores, np.isfinite(scores) & mask, 8)
        expected = ranking.top_k(np.where(mask, cached, -np.inf), 8)
        assert picked == expected[expected >= 0].tolist()
        assert recommend._display(model, recommend.Query("u7"), scores, picked) == \
            ranking.display_scores(cached[None, :], np.asarray([picked]))[0]


def test_a_filter_and_the_related_item_itself_are_left_out() -> None:
    model = _model("RELATED_ITEMS")
    query = recommend.Query(None, item_id="i07", num_results=10, mask=lambda c: ~np.char.endswith(c.item_ids, "8"))
    answer = _ids(recommend.recommend(model, query, UserHistory([], [], [])))
    assert answer and "i07" not in answer and not any(i.endswith("8") for i in answer)


def test_exploration_draws_young_unpopular_items_into_the_answer() -> None:
    model = _model(new_items=4)  # items the model never saw: undated, so young (ranking.exploration_pool)
    query = recommend.Query("u1", num_results=10, exploration_weight=1.0, with_reasons=True)
    prepared = recommend.prepare(model, query, model.history.get("u1"))
    assert prepared.n_explore == 5 and {f"new{i}" for i in range(4)} <= set(model.catalog.item_ids[prepared.pool])
    answer = recommend.explore(model, prepared)
    explored = [e for e in answer if e.get("reason") == [recommend.REASON_EXPLORATION]]
    assert len(answer) == 10 and explored
    # v2 (the recipes with reasons): what the model cannot score stays unscored; the rest shows its score
    assert all(("score" in e) != e["itemId"].startswith("new") for e in explored)
    assert len(set(_ids(answer))) == 10


def test_a_large_pool_is_sampled_once_per_answer_and_weighted_by_impressions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past EXPLORATION_CANDIDATES young items an answer draws from a uniform sample of them (sorted, its own
    memory); another answer samples afresh. Impressions without a click still weigh the draw."""
    monkeypatch.setattr(recommend, "EXPLORATION_CANDIDATES", 3)
    model = _model(new_items=12)
    query = recommend.Query("u1", num_results=10, exploration_weight=1.0)
    everything = recommend._exploration_pool(model.catalog, model.history.latest_timestamp, 30.0)
    young = set(model.catalog.item_ids[everything])
    seen: set[str] = set()
    for _ in range(20):
        prepared = recommend.prepare(model, query, model.history.get("u1"))
        assert len(prepared.pool) == 3 and not prepared.pool_shared and (np.diff(prepared.pool) > 0).all()
        names = set(model.catalog.item_ids[prepared.pool])
        assert names <= young
        answer = recommend.explore(model, prepared)
        explored = {e["itemId"] for e in answer if e.get("reason") == [recommend.REASON_EXPLORATION]}
        assert explored <= names
        seen |= names
    assert len(seen) > 3
    user = model.history.get("u1")
    pool = np.sort([p for p in everything if model.catalog.item_ids[p] not in set(user.item_ids)][:3])  # never clicked
    shown = UserHistory(user.item_ids, user.event_types, user.timestamps,
                        {str(model.catalog.item_ids[pool[1]]): 4, "not-an-item": 2})
    counts = recommend._shown_counts(model.catalog, shown, pool)
    assert counts is not None and counts.tolist() == [0.0, 4.0, 0.0]


def test_user_personalization_v1_scores_every_item_explored_ones_too() -> None:
    """AWS: User-Personalization scores every item in the catalogue; an item it cannot score shows 0."""
    model = _model(new_items=4)
    query = recommend.Query("u1", num_results=10, exploration_weight=1.0)
    answer = recommend.explore(model, recommend.prepare(model, query, model.history.get("u1")))
    assert len(answer) == 10 and all(isinstance(e.get("score"), float) for e in answer)
    assert all(e["score"] == 0.0 for e in answer if e["itemId"].startswith("new"))


def test_promoted_items_are_marked_and_kept() -> None:
    model = _model()
    promoted = recommend.Promotion("taste-0", 20, lambda c: np.isin(c.item_ids, ["i00", "i01", "i02"]))
    query = recommend.Query("u2", num_results=10, promotion=promoted)
    answer = recommend.recommend(model, query, model.history.get("u2"))
    marked = [e["itemId"] for e in answer if e.get("promotionName") == "taste-0"]
    assert len(marked) == 2 and set(marked) <= {"i00", "i01", "i02"}


def test_personalized_ranking_keeps_unknown_items_last_and_drops_filtered_ones() -> None:
    model = _model("PERSONALIZED_RANKING")
    query = recommend.Query("u4", mask=lambda c: c.item_ids != "i03")
    ranked = recommend.rank(model, query, model.history.get("u4"), ["i01", "zzz", "i03", "i20", "i01"])
    assert sorted(_ids(ranked)) == ["i01", "i20", "zzz"] and ranked[-1] == {"itemId": "zzz"}
    assert sum(e["score"] for e in ranked[:2]) == pytest.approx(1.0, abs=1e-6)
