"""Personalize's user split (spec §9.1): 10 % of users, oldest 90 % input, newest 10 % target; seeded."""

from __future__ import annotations

import numpy as np
import polars as pl

from openpersonalize.evaluation.split import history_length, split_users
from openpersonalize.recipes.base import TrainingData


def _data(n_users: int = 50, per_user: int = 20) -> TrainingData:
    rows = [
        {"USER_ID": f"u{u}", "ITEM_ID": f"i{(u + t) % 37}", "TIMESTAMP": 1000 * t + u}
        for u in range(n_users)
        for t in range(per_user if u else 1)  # user 0 has a single interaction: never a test user
    ]
    return TrainingData.from_frames(pl.DataFrame(rows).sample(fraction=1.0, shuffle=True, seed=1))


def test_history_length() -> None:
    assert history_length(2) == 1
    assert history_length(10) == 9
    assert history_length(20) == 18
    assert history_length(15) == 14  # round(13.5) = 14, keeps one target


def test_ten_percent_of_users_held_out_entirely() -> None:
    data = _data()
    split = split_users(data, seed=3)
    assert len(split.test_users) == 5
    assert data.user_ids[0] not in data.user_ids[split.test_users]  # < 2 interactions
    assert not np.isin(split.train.user_idx, split.test_users).any()
    assert split.train.n_interactions == data.n_interactions - 5 * 20
    assert split.train.n_items == data.n_items  # the catalogue keeps every item (coverage denominator)


def test_input_is_oldest_ninety_percent_target_the_rest() -> None:
    data = _data()
    split = split_users(data, seed=3)
    offsets = data.user_offsets()
    for row, user in enumerate(split.test_users):
        events = data.item_idx[offsets[user] : offsets[user + 1]]
        times = data.timestamp[offsets[user] : offsets[user + 1]]
        assert (np.diff(times) >= 0).all()
        assert np.array_equal(split.inputs.row(row), events[:18])
        assert np.array_equal(split.targets.row(row), np.unique(events[18:]))


def test_seeded_and_reproducible() -> None:
    data = _data()
    assert np.array_equal(split_users(data, seed=7).test_users, split_users(data, seed=7).test_users)
    assert not np.array_equal(split_users(data, seed=7).test_users, split_users(data, seed=8).test_users)


def test_related_items_are_scored_without_the_query_item() -> None:
    """GetRecommendations never returns an item as related to itself, so neither does the evaluation: a model
    ranking the query item first would otherwise score every user whose newest input item repeats."""
    from openpersonalize.evaluation.protocol import evaluate
    from openpersonalize.recipes.popularity import PopularityCount

    class ItselfFirst(PopularityCount):
        def _score(self, histories):  # type: ignore[no-untyped-def]
            scores = super()._score(histories)
            scores[np.arange(len(histories)), histories.items[histories.offsets[1:] - 1]] = 1e9
            return scores

    data = _data()
    split = split_users(data, seed=3)
    queried = split.inputs.items[split.inputs.offsets[1:] - 1]
    split = type(split)(split.train, split.test_users, split.inputs,
                        type(split.targets).from_lists([np.array([item]) for item in queried]))
    assert evaluate(ItselfFirst(), split, task="related").metrics["normalized_discounted_cumulative_gain_at_10"] == 0.0
    assert evaluate(ItselfFirst(), split, task="user").metrics["normalized_discounted_cumulative_gain_at_10"] == 1.0
