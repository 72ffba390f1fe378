"""Nearest training positions (``_neighbours.py``): what followed the closest windows gets the vote."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from openpersonalize.ranking import largest
from openpersonalize.recipes import _neighbours
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


def _sparse_product_votes(index: PositionIndex, queries: sp.csr_matrix, count: int) -> np.ndarray:
    """The vote as sparse products compute it (how it was computed before the dense accumulator), the nearest
    positions sorted by similarity then position: the reference the faster path must equal bit for bit, ties at
    the ``count``-th position included."""
    similar = (queries @ index.keys_by_item).tocsr().multiply(index.inverse_norms[None, :]).tocsr()
    rows, cols, vals = [], [], []
    for row in range(similar.shape[0]):
        values = similar.data[similar.indptr[row] : similar.indptr[row + 1]]
        positions = similar.indices[similar.indptr[row] : similar.indptr[row + 1]]
        if len(values) > count:
            keep = np.lexsort((positions, -values))[:count]
            values, positions = values[keep], positions[keep]
        rows.append(np.full(len(values), row))
        cols.append(positions)
        vals.append(values**2.0)
    nearest = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=similar.shape)
    return np.asarray((nearest @ index.values).todense(), dtype=np.float32)


@pytest.mark.parametrize("dense_share", [0, 10**9])  # rank the touched positions / every position
def test_the_vote_equals_the_sparse_products_bit_for_bit(dense_share: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_neighbours, "DENSE_SHARE", dense_share)
    rng = np.random.default_rng(4)
    width = 60
    # short sequences over a skewed catalogue: many positions hold the same single-item key, so similarities tie
    sequences = [rng.choice(width, size=rng.integers(1, 12), p=np.r_[np.full(10, 0.06), np.full(50, 0.008)]).tolist()
                 for _ in range(400)]
    index = _index(sequences, width)
    items = np.sort(np.stack([rng.choice(width, 4, replace=False) for _ in range(30)]), axis=1)
    weights = np.exp(-rng.permutation(np.tile(np.arange(4), (30, 1)).T).T / 5.0).astype(np.float32)
    queries = sp.csr_matrix((weights.ravel(), items.ravel(), np.arange(0, 121, 4)), shape=(30, width))
    for count in (5, 40, 300):
        assert np.array_equal(index.scores(queries, count), _sparse_product_votes(index, queries, count))


def test_the_largest_values_are_chosen_with_ties_to_the_first() -> None:
    rng = np.random.default_rng(5)
    cases = [rng.integers(0, 20, 5000).astype(np.float32),  # ties everywhere
             rng.random(5000).astype(np.float32),
             np.where(np.arange(5000) % 16 == 0, 2.0, rng.random(5000)).astype(np.float32),  # a sample of the top
             np.ones(700, np.float32)]
    for values in cases:
        for count in (1, 300, 699, 5000):
            expected = np.sort(np.lexsort((np.arange(len(values)), -values))[:count])
            assert np.array_equal(largest(values, count), expected)


def test_mostly_zero_values_give_the_same_choice_from_their_positive_sample() -> None:
    """The vote's similarities of every position: most are 0; some samples hold fewer positive values than the
    floor's rank (the floor is then 0), some ties among the positive ones."""
    rng = np.random.default_rng(8)
    for share in (0.002, 0.02, 0.25, 0.9):
        values = np.where(rng.random(60_000) < share, rng.integers(1, 40, 60_000) / 8.0, 0.0).astype(np.float32)
        for count in (1, 30, 300, 5000):
            expected = np.sort(np.lexsort((np.arange(len(values)), -values))[:count])
            assert np.array_equal(largest(values, count, mostly_zero=True), expected)
            assert np.array_equal(largest(values, count), expected)
