"""Nearest training positions (``_neighbours.py``): what followed the closest windows gets the vote."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from openpersonalize.recipes._neighbours import PositionIndex, neighbour_events
from openpersonalize.recipes.base import Recipe
from openpersonalize.recipes.sequential import _decay, _lagged
from openpersonalize.recipes.user_personalization import UserPersonalization

from ._synthetic import planted


def _index(sequences: list[list[int]], width: int) -> PositionIndex:
    items = np.concatenate([np.asarray(s) for s in sequences]).astype(np.int64)
    users = np.repeat(np.arange(len(sequences)), [len(s) for s in sequences])
    inputs = _lagged(items, users, -np.arange(3), _decay(3, 1.0), width)
    targets = _lagged(items, users, np.arange(1, 3), _decay(2, 1.0), width)
    return PositionIndex.build(inputs, targets)


def test_the_closest_window_votes_for_what_came_next() -> None:
    index = _index([[0, 1, 2, 3, 4], [5, 6, 2, 7, 8], [9, 10, 11, 12, 13]], width=14)
    query = sp.csr_matrix((np.array([1.0, np.exp(-1.0)]), (np.array([0, 0]), np.array([3, 2]))), shape=(1, 14))
    votes = index.scores(query, count=10)
    assert votes.shape == (1, 14)
    assert int(np.argmax(votes[0])) == 4  # after …2, 3 came 4 (user 0); after …2 alone, 7 (user 1) weighs less
    assert votes[0, 4] > votes[0, 7] > 0
    assert votes[0, 9:].sum() == 0  # user 2 shares no item with the query
    assert index.scores(query, count=2)[0, 7] == 0  # the two nearest positions are both user 0's


def test_a_query_without_overlap_gets_no_votes() -> None:
    index = _index([[0, 1, 2], [3, 4, 5]], width=7)
    query = sp.csr_matrix((np.array([1.0]), (np.array([0]), np.array([6]))), shape=(1, 7))
    assert not index.scores(query, count=5).any()


def test_the_vote_is_off_for_logs_over_the_limit() -> None:
    times = np.array([5, 1, 4, 2, 3])
    assert neighbour_events(times, limit=5).all()
    assert not neighbour_events(times, limit=4).any()


def test_the_blend_changes_scores_and_survives_save_and_load(tmp_path) -> None:
    data = planted(n_users=120)
    with_neighbours = UserPersonalization(l2=10.0).fit(data)
    without = UserPersonalization(l2=10.0, neighbour_weight=0.0).fit(data)
    assert without.neighbour_items_.size == 0 < with_neighbours.neighbour_items_.size
    history = [str(i) for i in data.item_ids[:4]]
    ids, scores = with_neighbours.recommend(history, num_results=10)
    assert not np.allclose(scores, without.recommend(history, num_results=10)[1])
    with_neighbours.save(tmp_path / "model")
    loaded = Recipe.load(tmp_path / "model")
    again_ids, again_scores = loaded.recommend(history, num_results=10)
    assert list(again_ids) == list(ids)
    np.testing.assert_allclose(again_scores, scores, rtol=1e-5)
