"""The repeat model's training examples see each user as a served user would: from outside the training users."""

from __future__ import annotations

import numpy as np

from openpersonalize.recipes._repeat import PROPENSITY_COLUMN, _examples, _propensity, _propensity_counts
from openpersonalize.recipes._repeat_features import features


def test_an_examples_item_propensity_leaves_its_own_user_out() -> None:
    """Item 9 is bought again by user 0 alone. Counted with user 0, it looks like the most re-bought item there
    is exactly in the examples where user 0's future holds it; left out, it has only the prior."""
    histories = [[9, 1, 9, 2, 9, 1, 9, 2, 9, 1], *([[1, 2, 3, 4, 5, 6, 7, 8, 1, 2]] * 5)]
    items = np.concatenate(histories)
    offsets = np.r_[0, np.cumsum([len(h) for h in histories])]
    times = np.arange(len(items), dtype=np.float64)
    counts = _propensity_counts(items, offsets, 10)
    assert _propensity(*counts)[9] > 1.0  # with user 0 counted: re-bought more than the average item
    features, _, _, _, _ = _examples(items, np.zeros(len(items), np.int64), times, offsets, counts, 1, seed=0)
    own = features[: 3 * 3]  # user 0's three cuts, items 1, 2 and 9 in each
    prior = np.log(_propensity(np.zeros(1), np.zeros(1), counts[2]))[0]
    assert np.isclose(own[2::3, PROPENSITY_COLUMN], prior).all()


def test_an_examples_future_is_as_long_as_the_protocols() -> None:
    """One user, 100 events each in its own second: item 0 first, then again at event 95. The 90 % cut's future
    (events 90-99) holds it; the 70 % cut's (a ninth of 70 events: 70-77) does not, though the rest of the
    history does. A cut inside a basket keeps the whole basket in its future (item 0 again, at event 79, in
    the basket of events 69-79)."""
    items = np.r_[0, np.arange(1, 95), 0, np.arange(95, 99)].astype(np.int64)
    offsets = np.array([0, 100])
    counts = _propensity_counts(items, offsets, 100)
    apart = np.arange(100, dtype=np.float64)
    _, _, reappears, _, _ = _examples(items, np.zeros(100, np.int64), apart, offsets, counts, 1, seed=0)
    # one row per distinct input item, item 0 first: the 90 % cut's 90 rows, the 80 % cut's 80, the 70 % cut's 70
    assert reappears[0] and not reappears[90] and not reappears[-70]
    basket = apart.copy()
    basket[69:80] = 69.0
    items_in_basket = items.copy()
    items_in_basket[[79, 95]] = [0, 95]
    _, _, reappears, _, _ = _examples(items_in_basket, np.zeros(100, np.int64), basket, offsets,
                                      _propensity_counts(items_in_basket, offsets, 100), 1, seed=0)
    assert reappears[-70]


def _histories(seed: int, stamped: bool) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Random histories with baskets (shared timestamps), repeats, an old timestamp last, and an empty row."""
    rng = np.random.default_rng(seed)
    rows, times = [], []
    for user in range(300):
        size = int(rng.integers(1, 90))
        pool = rng.integers(0, 60, 6) if user % 3 == 0 else np.arange(60)  # a third buys the same few
        rows.append(rng.choice(pool, size))
        stamps = 1.6e9 + np.cumsum(rng.choice([0, 0, 0, 1, 30, 4000, 90_000, 3e6], size))
        if user % 7 == 0:
            stamps[-1] -= 5000.0
        times.append(stamps)
    rows.insert(10, np.zeros(0, np.int64))
    times.insert(10, np.zeros(0))
    offsets = np.r_[0, np.cumsum([len(r) for r in rows])]
    types = rng.integers(0, 3, int(offsets[-1]))
    return np.concatenate(rows).astype(np.int64), np.concatenate(times) if stamped else None, types, offsets


def test_a_batch_of_histories_has_each_historys_own_features_bit_for_bit() -> None:
    """A user's features, and so their answer, must not depend on who else is in the batch."""
    propensity = np.random.default_rng(1).random(60).astype(np.float32) * 3.0
    for stamped in (True, False):
        items, times, types, offsets = _histories(0, stamped)
        batch = features(items, types, times, offsets, propensity, 3)
        for row in range(len(offsets) - 1):
            lo, hi = offsets[row], offsets[row + 1]
            alone = features(items[lo:hi], types[lo:hi], None if times is None else times[lo:hi], np.r_[0, hi - lo],
                             propensity, 3)
            mine = batch.rows == row
            assert np.array_equal(batch.items[mine], alone.items)
            assert np.array_equal(batch.items[mine], np.unique(items[lo:hi]))
            assert np.array_equal(batch.numeric[mine], alone.numeric)
            assert all(np.array_equal(a[mine], b) for a, b in zip(batch.cells, alone.cells, strict=True))


def test_features_of_a_small_history_by_hand() -> None:
    """Three baskets (times 0, 0, 10, 20, 20): [1, 2], [1], [3, 1]."""
    items = np.array([1, 2, 1, 3, 1])
    found = features(items, None, np.array([0.0, 0.0, 10.0, 20.0, 20.0]), np.array([0, 5]), np.ones(4, np.float32), 1)
    assert found.items.tolist() == [1, 2, 3]
    kind, rank, gap = found.cells
    assert rank.tolist() == [0, 2, 1]  # 1 is the newest event, then 3, then 2
    assert gap.tolist() == [0, 1, 0]  # 2 was taken 20 s before the newest event: the bucket of a second to a minute
    count, share = found.numeric[:, 2], found.numeric[:, 3]
    assert np.allclose(np.exp(count), [3, 1, 1]) and np.allclose(share, [1.0, 1 / 3, 1 / 3])
    in_newest = found.numeric[:, 24]
    assert in_newest.tolist() == [1.0, 0.0, 1.0]
