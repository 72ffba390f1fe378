"""Metric keys and values against hand-computed cases (spec §9.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from openpersonalize.recipes.metrics import compute_metrics, metric_keys
from openpersonalize.recipes.base import Histories

PAD = -1


def _lists(*rows: list[int]) -> np.ndarray:
    return np.array([row + [PAD] * (25 - len(row)) for row in rows])


def test_keys_are_personalizes() -> None:
    assert metric_keys() == [
        "coverage",
        "mean_reciprocal_rank_at_25",
        "normalized_discounted_cumulative_gain_at_5",
        "normalized_discounted_cumulative_gain_at_10",
        "normalized_discounted_cumulative_gain_at_25",
        "precision_at_5",
        "precision_at_10",
        "precision_at_25",
    ]


def test_spec_worked_example_ndcg_at_5() -> None:
    # Relevant at positions 2 and 5, two relevant items: (1/log3 + 1/log6) / (1/log2 + 1/log3) = 0.6241.
    recommended = _lists([10, 1, 11, 12, 2])
    m = compute_metrics(recommended, Histories.from_lists([np.array([1, 2])]), n_catalogue_items=100)
    assert m["normalized_discounted_cumulative_gain_at_5"] == pytest.approx(0.6241, abs=1e-4)
    assert m["mean_reciprocal_rank_at_25"] == pytest.approx(0.5)
    assert m["precision_at_5"] == pytest.approx(2 / 5)
    assert m["precision_at_25"] == pytest.approx(2 / 25)  # divided by K even with fewer relevant items


def test_two_users_averaged_and_coverage() -> None:
    recommended = _lists([5, 6, 7], [7, 8])
    targets = Histories.from_lists([np.array([9]), np.array([8, 3, 4])])
    m = compute_metrics(recommended, targets, n_catalogue_items=8)
    # user 0: no hit; user 1: hit at position 2 → RR 1/2, NDCG@5 = (1/log2(3)) / (1 + 1/log2(3) + 1/log2(4)).
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m["mean_reciprocal_rank_at_25"] == pytest.approx(0.25)
    assert m["normalized_discounted_cumulative_gain_at_5"] == pytest.approx((1 / math.log2(3)) / ideal / 2)
    assert m["precision_at_10"] == pytest.approx((0 + 1 / 10) / 2)
    assert m["coverage"] == pytest.approx(4 / 8)  # items 5, 6, 7, 8 of 8


def test_ideal_dcg_is_capped_at_k() -> None:
    # 30 relevant items and a perfect list: NDCG@K = 1 for every K.
    recommended = np.arange(25)[None, :]
    m = compute_metrics(recommended, Histories.from_lists([np.arange(30)]), n_catalogue_items=30)
    for k in (5, 10, 25):
        assert m[f"normalized_discounted_cumulative_gain_at_{k}"] == pytest.approx(1.0)
    assert m["precision_at_25"] == pytest.approx(1.0)


def test_mismatched_rows_rejected() -> None:
    with pytest.raises(ValueError, match="2 rows but targets has 1"):
        compute_metrics(_lists([1], [2]), Histories.from_lists([np.array([1])]), n_catalogue_items=3)
