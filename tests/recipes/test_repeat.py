"""The repeat model's training examples see each user as a served user would: from outside the training users."""

from __future__ import annotations

import numpy as np

from openpersonalize.recipes._repeat import PROPENSITY_COLUMN, _examples, _propensity, _propensity_counts


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
