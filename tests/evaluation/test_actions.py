"""PERSONALIZED_ACTIONS evaluation (spec §9.1 item 3, §9.2): held-out action users and hand-computed metrics."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from openpersonalize.evaluation.actions import METRIC_KEYS, action_metrics, roc_auc, split_action_users
from openpersonalize.recipes._actions import ActionTrainingData
from openpersonalize.recipes.base import TrainingData


def test_auc_by_hand() -> None:
    # Positives 0.9, 0.4; negatives 0.5, 0.1: pairs (0.9>0.5, 0.9>0.1, 0.4<0.5, 0.4>0.1) → 3/4.
    assert roc_auc(np.array([0.9, 0.4, 0.5, 0.1]), np.array([1, 1, 0, 0])) == pytest.approx(0.75)
    assert roc_auc(np.array([0.3, 0.3]), np.array([1, 0])) == pytest.approx(0.5)  # a tie counts half
    assert roc_auc(np.array([0.3, 0.9]), np.array([1, 1])) == 0.5  # one class only


def test_precision_recall_coverage_by_hand() -> None:
    # 3 users × 3 actions; each user is recommended their top action: u0 → a0, u1 → a0, u2 → a1.
    scores = np.array([[0.9, 0.1, 0.2], [0.8, 0.3, 0.1], [0.1, 0.7, 0.2]])
    labels = np.array([[1, -1, 0], [0, 1, -1], [-1, 1, 1]])
    metrics = action_metrics(scores, labels)
    # a0: recommended 2, correct 1 (u0), takers 1 → P 1/2, R 1; a1: recommended 1, correct 1, takers 2 → P 1,
    # R 1/2; a2: never recommended, taken by u2 → P 0, R 0. Macro averages over the 3 actions.
    assert metrics["precision"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert metrics["recall"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert metrics["coverage"] == pytest.approx(2 / 3)
    # labelled pairs: positives 0.9, 0.3, 0.7, 0.2; negatives 0.2, 0.8 → wins: 0.9 ×2, 0.3 ×1, 0.7 ×1,
    # 0.2 vs 0.2 half → (2 + 1 + 1 + 0.5) / 8.
    assert metrics["auc"] == pytest.approx(4.5 / 8)
    assert set(metrics) == set(METRIC_KEYS)
    assert action_metrics(np.zeros((0, 3)), np.zeros((0, 3))) == dict.fromkeys(METRIC_KEYS, 0.0)


def test_split_holds_out_ten_percent_of_action_users_entirely() -> None:
    interactions = pl.DataFrame({"USER_ID": [f"u{k}" for k in range(30) for _ in range(3)],
                                 "ITEM_ID": [f"i{j}" for _ in range(30) for j in range(3)],
                                 "TIMESTAMP": list(range(90))})
    actions = pl.DataFrame({"ACTION_ID": ["a", "b"], "VALUE": [1, 2]})
    events = pl.DataFrame({"USER_ID": [f"u{k}" for k in range(20)] + ["stranger"],
                           "ACTION_ID": ["a"] * 21, "EVENT_TYPE": ["Taken"] * 10 + ["Not taken"] * 11,
                           "TIMESTAMP": list(range(21))})
    data = ActionTrainingData.attach(TrainingData.from_frames(interactions), actions, events)
    train, test = split_action_users(data, seed=0)
    assert len(test) == 2  # round(0.1 × 21 users with action interactions)
    assert train.action_events is not None and not np.isin(train.action_events.user_ids, test).any()
    held = np.isin(data.user_ids[train.user_idx], test)
    assert not held.any() and train.n_interactions == data.n_interactions - 3 * np.isin(data.user_ids, test).sum()
