"""Offline metrics of PERSONALIZED_ACTIONS recipes (spec §9.1 item 3, §9.2).

Split: 10 % of the users with action interactions (seeded) are held out with all their item and action
interactions; the model trains on everyone else. A held-out user is served from their item history, like a
visitor, and their action interactions are the ground truth: an action they TOOK is positive, one they only
saw or declined (NOT_TAKEN / VIEWED) is negative.

- ``auc``: area under the ROC curve of the propensities of all labelled (user, action) pairs;
- ``precision`` / ``recall``: each held-out user is recommended their top RECOMMENDED_PER_USER actions; per
  action, precision = takers among the users it was recommended to / times recommended, recall = takers it
  was recommended to / takers; both macro-averaged over the actions recommended or taken (an action never
  recommended has precision 0, as scikit-learn's ``zero_division=0`` macro average);
- ``coverage``: distinct actions recommended / actions in the Actions dataset.
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np
import scipy.stats

from .. import ranking
from ..recipes._actions import ActionTrainingData
from ..recipes.base import Histories
from .protocol import Evaluation
from .split import TEST_USER_FRACTION

RECOMMENDED_PER_USER = 1  # the next best action: the one action a surface shows (our reading, spec §9.2)
METRIC_KEYS = ("auc", "coverage", "precision", "recall")


class ActionModel(Protocol):
    def fit(self, data: ActionTrainingData) -> object: ...

    def action_scores(self, histories: Histories) -> np.ndarray: ...


def split_action_users(data: ActionTrainingData, *, seed: int) -> tuple[ActionTrainingData, np.ndarray]:
    """(training data without the held-out users, held-out user ids)."""
    assert data.action_events is not None
    events = data.action_events
    candidates = np.unique(events.user_ids)
    n_test = min(len(candidates), int(np.floor(TEST_USER_FRACTION * len(candidates) + 0.5)))
    test = np.sort(np.random.default_rng(seed).choice(candidates, size=n_test, replace=False))
    known = data.user_ids[np.isin(data.user_ids, test)]
    held_rows = np.isin(data.user_idx, np.searchsorted(data.user_ids, known))
    train = data.select(~held_rows)
    assert isinstance(train, ActionTrainingData)
    return train.with_action_events(events.subset(~np.isin(events.user_ids, test))), test


def evaluate_actions(model: ActionModel, data: ActionTrainingData, *, seed: int = 0) -> Evaluation:
    """Fit on the training users; score the held-out users' propensities against what they did."""
    train, test_users = split_action_users(data, seed=seed)
    started = time.perf_counter()
    model.fit(train)
    trained = time.perf_counter()
    labels = _labels(data, test_users)
    scores = model.action_scores(_item_histories(data, test_users))
    finished = time.perf_counter()
    return Evaluation(action_metrics(scores, labels), trained - started, finished - trained)


def action_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Metrics from propensities and labels (users × actions; 1 taken, 0 not taken, -1 no interaction)."""
    if scores.size == 0:
        return dict.fromkeys(METRIC_KEYS, 0.0)
    top = ranking.top_k(scores, RECOMMENDED_PER_USER)
    recommended = np.zeros(scores.shape, dtype=bool)
    rows, slots = np.nonzero(top >= 0)
    recommended[rows, top[rows, slots]] = True
    taken = labels == 1
    n_recommended, n_taken = recommended.sum(axis=0), taken.sum(axis=0)
    correct = (recommended & taken).sum(axis=0)
    relevant = (n_recommended > 0) | (n_taken > 0)
    precision = np.divide(correct, n_recommended, out=np.zeros(len(correct)), where=n_recommended > 0)
    recall = np.divide(correct, n_taken, out=np.zeros(len(correct)), where=n_taken > 0)
    return {
        "auc": roc_auc(scores[labels >= 0], labels[labels >= 0]),
        "coverage": float(np.mean(n_recommended > 0)),
        "precision": float(precision[relevant].mean()) if relevant.any() else 0.0,
        "recall": float(recall[relevant].mean()) if relevant.any() else 0.0,
    }


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mann–Whitney AUC with ties counted half; 0.5 when only one class is present."""
    positives = int((labels == 1).sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return 0.5
    ranks = scipy.stats.rankdata(scores)
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _labels(data: ActionTrainingData, test_users: np.ndarray) -> np.ndarray:
    """Users × actions: 1 if the user TOOK the action, 0 if they only saw or declined it, -1 otherwise."""
    assert data.action_events is not None and data.actions is not None
    events = data.action_events
    rows = np.searchsorted(test_users, events.user_ids)
    mine = (rows < len(test_users)) & (test_users[np.minimum(rows, len(test_users) - 1)] == events.user_ids)
    labels = np.full((len(test_users), len(data.actions.action_ids)), -1, dtype=np.int8)
    labels[rows[mine], events.action_idx[mine]] = 0
    took = mine & events.taken
    labels[rows[took], events.action_idx[took]] = 1
    return labels


def _item_histories(data: ActionTrainingData, test_users: np.ndarray) -> Histories:
    offsets = data.user_offsets()
    idx = np.searchsorted(data.user_ids, test_users)
    known = (idx < len(data.user_ids)) & (data.user_ids[np.minimum(idx, len(data.user_ids) - 1)] == test_users)
    rows = [data.item_idx[offsets[u] : offsets[u + 1]] if ok else np.zeros(0, np.int64)
            for u, ok in zip(idx, known, strict=True)]
    return Histories.from_lists(rows)
