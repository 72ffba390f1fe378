"""Items past User-Personalization's ``max_vocabulary`` are scored through the tail index (issue 4).

A 20k-item catalogue with 40 tastes and a Zipf long tail, the matrices capped at 600 items: the tail (every
other trained item) must be reachable, answer with the user's taste, and the inverted-file index must find
what scoring every tail item finds (recall@25).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from openpersonalize.recipes._retrieval import InvertedIndex, recall_at
from openpersonalize.recipes.base import Recipe, TrainingData
from openpersonalize.recipes.user_personalization import UserPersonalization

ITEMS, TASTES, USERS, EVENTS, VOCABULARY = 20_000, 40, 3000, 20, 600


def _taste(item_id: str) -> int:
    return int(item_id[1:]) % TASTES


def _long_tail(users: int = USERS, seed: int = 0) -> TrainingData:
    """Item i has taste i % 40 and popularity 1/(i/40 + 3); each user keeps to one taste (90 % of events)."""
    rng = np.random.default_rng(seed)
    weight = 1.0 / (np.arange(ITEMS // TASTES) + 3.0)
    own = rng.choice(ITEMS // TASTES, size=(users, EVENTS), p=weight / weight.sum()) * TASTES
    item = own + (np.arange(users) % TASTES)[:, None]
    noise = rng.random((users, EVENTS)) < 0.1
    item[noise] = rng.integers(0, 2000, size=int(noise.sum()))
    frame = pl.DataFrame({
        "USER_ID": np.repeat([f"u{u}" for u in range(users)], EVENTS),
        "ITEM_ID": [f"i{i}" for i in item.ravel()],
        "TIMESTAMP": 1_700_000_000 + np.tile(np.arange(EVENTS) * 60, users),
    })
    return TrainingData.from_frames(frame)


@pytest.fixture(scope="module")
def fitted() -> tuple[UserPersonalization, TrainingData]:
    data = _long_tail()
    return UserPersonalization(max_vocabulary=VOCABULARY).fit(data), data


def _history(data: TrainingData, user: int) -> list[str]:
    offsets = data.user_offsets()
    return data.item_ids[data.item_idx[offsets[user] : offsets[user + 1]]].tolist()


def test_the_tail_is_every_trained_item_outside_the_matrices(fitted: tuple[UserPersonalization, TrainingData]) -> None:
    model, data = fitted
    trained = np.flatnonzero(data.item_counts() > 0)
    assert len(model.vocabulary_) == VOCABULARY
    outside = set(trained.tolist()) - set(model.vocabulary_.tolist())
    # a few items appear only in the validation slice UP holds out of the fit
    assert set(model.tail_items_.tolist()) <= outside and len(model.tail_items_) > 0.95 * len(outside)
    assert len(model.tail_items_) > 5 * VOCABULARY


def test_tail_items_are_recommended_by_taste_when_the_matrices_items_are_excluded(
    fitted: tuple[UserPersonalization, TrainingData],
) -> None:
    model, data = fitted
    head = model.item_ids_[model.vocabulary_].tolist()
    tail = set(model.item_ids_[model.tail_items_].tolist())
    shares = []
    for user in range(0, 400, 10):
        history = _history(data, user)  # (history items also come back through the repeat component)
        ids, scores = model.recommend(history, num_results=10, exclude_item_ids=head + history)
        assert len(ids) == 10 and set(ids) <= tail
        assert len(set(np.round(scores, 9))) > 1  # scored by the tail, not the flat floor below it
        taste = np.bincount([_taste(i) for i in history]).argmax()
        shares.append(np.mean([_taste(i) == taste for i in ids]))
    assert np.mean(shares) > 0.6  # one taste in 40 would be 0.025 by chance


def test_index_recall_at_25_against_scoring_every_tail_item(fitted: tuple[UserPersonalization, TrainingData]) -> None:
    model, data = fitted
    tail = np.zeros(len(model.item_ids_), dtype=bool)
    tail[model.tail_items_] = True
    recalls = []
    for user in range(1, 600, 6):
        history = _history(data, user)
        served = np.where(tail, model.score_history(history), -np.inf)
        UserPersonalization.exact_tail = True
        try:
            exact = np.where(tail, model.score_history(history), -np.inf)
        finally:
            UserPersonalization.exact_tail = False
        recalls.append(recall_at(np.argsort(-served)[:25], np.argsort(-exact)[:25]))
    assert np.mean(recalls) >= 0.9, np.mean(recalls)


def test_the_tail_survives_save_and_load(fitted: tuple[UserPersonalization, TrainingData], tmp_path: object) -> None:
    model, data = fitted
    model.save(tmp_path)  # type: ignore[arg-type]
    loaded = Recipe.load(tmp_path)  # type: ignore[arg-type]
    history = _history(data, 7)
    np.testing.assert_array_equal(loaded.score_history(history), model.score_history(history))


def test_no_tail_while_the_matrices_hold_every_item() -> None:
    model = UserPersonalization(repeat_weight=0.0).fit(_long_tail(users=200))
    assert len(model.tail_items_) == 0 < len(model.vocabulary_) < VOCABULARY


def test_inverted_index_finds_the_exact_top_k_when_every_list_is_probed() -> None:
    vectors = np.random.default_rng(1).normal(size=(3000, 8)).astype(np.float32)
    index = InvertedIndex.build(vectors, lists=30)
    query = np.ones(8, dtype=np.float32)
    found, scores = index.search(query, 25, probes=30)
    expected = np.argsort(-(vectors @ query))[:25]
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_allclose(scores, (vectors @ query)[expected], rtol=1e-5)
