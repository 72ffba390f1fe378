"""ranking.py: top-k, display scores, personalized ranking, exploration and promotions, one row or many."""

from __future__ import annotations

import numpy as np
import pytest

from openpersonalize import ranking

INF = np.inf


def test_top_k_breaks_ties_by_position_and_pads_rows_short_of_candidates() -> None:
    scores = np.array([[1.0, 3.0, 3.0, 2.0, 3.0], [0.5, -INF, -INF, 0.5, -INF]])
    np.testing.assert_array_equal(ranking.top_k(scores, 2), [[1, 2], [0, 3]])
    np.testing.assert_array_equal(ranking.top_k(scores, 4), [[1, 2, 4, 3], [0, 3, -1, -1]])
    assert ranking.top_k(scores, 0).shape == (2, 0)


def test_ties_at_the_cut_keep_the_lowest_positions_however_many_tie() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 3, size=(50, 400)).astype(np.float32)  # a popularity fallback: few distinct values
    for k in (1, 7, 25, 399):
        expected = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(ranking.top_k(scores, k), expected)


def test_one_row_and_many_rows_give_the_same_answer() -> None:
    scores = np.random.default_rng(1).normal(size=(8, 300)).astype(np.float32)
    scores[scores < -1.5] = -INF
    many = ranking.top_k(scores, 10)
    for row in range(len(scores)):
        np.testing.assert_array_equal(ranking.top_k(scores[row], 10), many[row])
    one = [ranking.display_scores(scores[r : r + 1], many[r : r + 1]) for r in range(len(scores))]
    assert [row[0] for row in one] == ranking.display_scores(scores, many)


def _sorted_top(scores: np.ndarray, k: int) -> np.ndarray:
    """The reference: a stable sort of every row, non-finite picks as -1."""
    order = np.argsort(-scores, axis=-1, kind="stable")[..., :k]
    return np.where(np.isfinite(np.take_along_axis(scores, order, axis=-1)), order, -1)


def test_long_rows_read_their_top_k_off_a_sample_threshold_exactly() -> None:
    """Rows over 64 k long are cut by a threshold read off a sample first; the answer is a full sort's, whether few
    or many items rise above a large catalogue's fill value, with ties at the cut, and for rows the threshold
    leaves short of k (ranked whole)."""
    rng = np.random.default_rng(2)
    for above in (10, 3000, 400_000):
        scores = np.full(1_000_000, -1.0, dtype=np.float32)
        scores[rng.choice(len(scores), 200_000, replace=False)] = -INF
        scores[rng.choice(len(scores), above, replace=False)] = rng.random(above).astype(np.float32)
        k = ranking.PARTIAL_RANKING
        np.testing.assert_array_equal(ranking.top_k(scores, k), _sorted_top(scores, k))
    wide = rng.normal(size=(300, 4000)).astype(np.float32)
    wide[:, rng.random(4000) < 0.2] = -INF
    wide[::3] = np.round(wide[::3], 1)  # many ties at the cut
    wide[5, 30:] = -INF  # fewer finite scores than k
    wide[7] = 1.0  # one value everywhere: the sample's threshold keeps the whole row
    wide[9, ::16] = -INF  # the sample sees only -inf
    wide[11, :] = 0.0
    wide[11, [10, 3000]] = 5.0  # two items above a sample of ties: fewer than k pass a threshold above them
    for k in (1, 25, 60):
        np.testing.assert_array_equal(ranking.top_k(wide, k), _sorted_top(wide, k))
        np.testing.assert_array_equal(ranking.top_k(wide[11], k), _sorted_top(wide[11], k))


def test_a_cached_ranking_answers_masks_as_top_k_does() -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 50, size=2000).astype(np.float32)
    scores[:100] = -INF
    cached = ranking.ranking_of(scores, 0.0, 1.0)
    for share in (0.9, 0.1, 0.001):
        allowed = rng.random(2000) < share
        expected = ranking.top_k(np.where(allowed, scores, -INF), 25)
        np.testing.assert_array_equal(ranking.top_k_ranked(cached, allowed, 25), expected[expected >= 0])


def test_display_scores_are_a_softmax_over_the_finite_scores_rounded_for_the_wire() -> None:
    scores = np.array([[2.0, 1.0, -INF, 0.5]], np.float32)
    shown = ranking.display_scores(scores, np.array([[0, 1, 2, -1]]))[0]
    total = np.exp(2.0) + np.exp(1.0) + np.exp(0.5)
    assert shown[0] == round(float(np.exp(2.0) / total), ranking.DISPLAY_DECIMALS)
    assert shown[2] is None and shown[3] is None  # unscored, and a padding slot
    peak, total_cached = ranking.softmax_normaliser(scores)
    assert ranking.display_scores(scores, np.array([[0, 1]]), (peak, total_cached))[0] == shown[:2]


@pytest.mark.parametrize("width", [7, 5_000, 8_191, 8_193, 20_000])
def test_a_rows_normaliser_has_the_same_bits_alone_as_in_a_batch(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shortlist is a batch row and a scored request a row alone: their shown scores must agree to the bit
    (widths around numpy's 8,192-element buffer, -inf entries, a row without a finite score), whether a batch's
    rows are exponentiated at once or a few at a time."""
    rng = np.random.default_rng(width)
    scores = (rng.standard_normal((6, width)) * 7).astype(np.float32)
    scores[rng.random(scores.shape) < 0.1] = -INF
    scores[3] = -INF
    peak, total = ranking.softmax_normaliser(scores)
    for row in range(len(scores)):
        alone = ranking.softmax_normaliser(scores[row : row + 1].copy())
        assert (alone[0][0], alone[1][0]) == (peak[row], total[row])
    assert total[3] == 0.0
    monkeypatch.setattr(ranking, "NORMALISER_CELLS", 4 * width)  # 4 rows, then 2
    stepped = ranking.softmax_normaliser(scores)
    assert np.array_equal(stepped[0], peak) and np.array_equal(stepped[1], total)


def test_excluding_items_removes_them_from_the_list_not_from_the_softmax() -> None:
    """GetRecommendations normalises over every scored item (spec §5.4 v1): the caller masks the top-k input,
    not the scores it reads the softmax from."""
    scores = np.array([[3.0, 2.0, 1.0]])
    picked = ranking.top_k(np.where([[False, True, True]], scores, -INF), 2)
    np.testing.assert_array_equal(picked, [[1, 2]])
    assert ranking.softmax_at(scores, picked)[0, 0] == pytest.approx(np.exp(2.0) / np.exp([3.0, 2.0, 1.0]).sum())


def test_rank_list_orders_scored_items_then_unknown_ones_in_input_order() -> None:
    scores = np.array([0.1, 0.9, 0.5, -INF], np.float32)
    order, shown = ranking.rank_list(scores, np.array([0, -1, 3, 1, 2]))
    np.testing.assert_array_equal(order, [3, 4, 0, 1, 2])
    weights = np.exp(np.array([0.9, 0.5, 0.1]) - 0.9)
    np.testing.assert_allclose(shown[:3], np.round(weights / weights.sum(), ranking.DISPLAY_DECIMALS))
    assert np.isnan(shown[3:]).all()


def test_exploration_slots_follow_the_share() -> None:
    assert ranking.exploration_slots(10, 1.0) == 5  # EXPLORATION_SHARE: half the list at weight 1.0
    assert ranking.exploration_slots(20, 0.3) == 3
    assert ranking.exploration_slots(25, 0.0) == 0


def test_item_ages_prefer_the_creation_timestamp_then_the_first_interaction() -> None:
    created = np.array([100.0, np.nan, np.nan])
    first = np.array([50.0, 60.0, np.nan])
    np.testing.assert_array_equal(ranking.item_ages(created, first), [100.0, 60.0, np.nan])
    np.testing.assert_array_equal(ranking.item_ages(None, first), first)


def test_the_exploration_pool_is_young_and_less_popular_than_the_median_trained_item() -> None:
    day = ranking.SECONDS_PER_DAY
    created = np.array([0.0, 9 * day, 9 * day, np.nan, np.nan])
    counts = np.array([5, 1, 9, 1, 0])  # median of trained counts (first 4): 3
    pool = ranking.exploration_pool(created, counts, n_model=4, latest=10 * day, cutoff_days=2)
    np.testing.assert_array_equal(pool, [1, 4])  # 0 is old, 2 popular, 3 undated but trained


def test_draws_are_distinct_not_yet_picked_and_weighted_away_from_shown_items() -> None:
    rng = np.random.default_rng(4)
    pool = np.array([10, 11, 12, 13])
    drawn = ranking.draw(pool, 2, rng, excluded=[12])
    assert set(drawn) <= {10, 11, 13} and len(set(drawn)) == 2
    np.testing.assert_array_equal(ranking.draw(pool, 3, rng, excluded=[10, 11, 12]), [13])
    assert len(ranking.draw(pool[:0], 3, rng)) == 0
    shown = np.array([0.0, 50.0, 0.0, 0.0])
    picks = [ranking.draw(pool, 1, rng, shown=shown)[0] for _ in range(400)]
    assert picks.count(11) < 40  # weight 1/101 against 1 for each other item


def test_explore_replaces_the_weakest_picks_at_random_positions_in_the_lower_half() -> None:
    rng = np.random.default_rng(5)
    out = ranking.explore([1, 2, 3, 4], [9, 8], 4, rng)
    assert [x for x in out if x in (9, 8)] == [9, 8] and [x for x in out if x not in (9, 8)] == [1, 2]
    assert out[:2] == [1, 2]  # the two slots take the lower half
    lists = [ranking.explore(list(range(10)), [90, 91], 10, rng) for _ in range(200)]
    assert all(answer[:5] == [0, 1, 2, 3, 4] for answer in lists)  # the model's surest picks stay on top
    assert {answer.index(90) for answer in lists} == {5, 6, 7, 8}  # anywhere below, 91 after it
    assert ranking.explore([1], [9, 8, 7], 3, rng) == [9, 8, 7]  # more slots than the lower half: all of them
    positions = {tuple(ranking.interleave([1, 2, 3], [9], 4, rng)).index(9) for _ in range(100)}
    assert positions == {0, 1, 2, 3}


def test_promotions_take_the_best_eligible_items_even_unscored_ones() -> None:
    rng = np.random.default_rng(6)
    scores = np.array([5.0, 4.0, 3.0, -INF, 1.0])
    eligible = np.array([False, False, True, True, False])
    assert ranking.promotion_slots(5, 30) == 2  # ceil(1.5)
    answer, promoted = ranking.promote([0, 1, 2, 4], scores, eligible, 2, 4, rng)
    assert promoted == [2, 3]  # the scored one first, then the unscored one
    assert sorted(answer) == [0, 1, 2, 3] and [x for x in answer if x in (0, 1)] == [0, 1]


def test_a_top_k_under_a_mask_is_read_off_the_best_items_as_masking_first_gives_it() -> None:
    rng = np.random.default_rng(4)
    for size, k in ((50, 10), (5000, 25), (300_000, 25)):
        scores = rng.integers(0, 40, size).astype(np.float32)  # ties everywhere, the cut included
        scores[rng.random(size) < 0.3] = -INF
        for share in (1.0, 0.9, 0.01, 0.0):
            allowed = rng.random(size) < share
            expected = ranking.top_k(np.where(allowed, scores, -INF), k)
            np.testing.assert_array_equal(ranking.top_k_allowed(scores, allowed, k), expected[expected >= 0])
