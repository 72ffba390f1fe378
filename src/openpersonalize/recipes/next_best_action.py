"""Next-Best-Action (PERSONALIZED_ACTIONS, spec §5.4): per user, actions ranked by propensity to be taken.

The propensity model is a multi-task logistic regression: one weight vector per action over features of the
user's *item* interactions (the mean of their items' PureSVD embeddings and their activity), fitted jointly
with L-BFGS. Its labels come from the action interactions, read through ``action_optimization_period``: an
exposure (NOT_TAKEN or VIEWED) is positive when the user TAKES the action within the period after it; a TAKEN
with no exposure in the period before it is positive on its own. Serving follows the docs: an action without
≥ 50 TAKEN and ≥ 50 NOT_TAKEN/VIEWED interactions in the 6 weeks before the newest one scores 0.0; equal
propensities rank the greater VALUE first; expired actions and actions inside their REPEAT_FREQUENCY window
after the user took them are never returned.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import scipy.optimize
import scipy.sparse as sp
import scipy.sparse.linalg

from ._actions import ActionEvents, ActionTrainingData, normalise_event_type, TAKEN
from ._data import TrainingData, lookup_sorted
from ._params import Interval, declared, int_param
from ._records import PERSONALIZED_ACTIONS, Algorithm, Capabilities, DataNeeds, RecipeRecord, launched
from .base import Histories, Recipe, check_is_fitted

__all__ = ["NextBestAction"]

DAY = 86_400
SCORED_WINDOW_DAYS = 42  # "within 6 weeks of the latest action interaction" (spec §4.8)
ACTION_OPTIMIZATION_PERIOD = int_param("action_optimization_period", 14, 7, 28, scope="featurization")  # days
SCORE_DECIMALS = 4  # propensities equal to this precision are ties, broken by VALUE (spec §5.4)


class NextBestAction(Recipe):
    """Action propensities from item-interaction features, with the docs' serving rules.

    Parameters
    ----------
    action_optimization_period : int in [7, 28], days after an exposure within which a TAKEN counts (spec §5.2).
    embedding_dimension : int, size of the item embedding the user features are built from.
    l2 : float, ridge penalty of the per-action weights.
    min_action_interactions : int, TAKEN and NOT_TAKEN/VIEWED counts an action needs to be scored (50 in
        Personalize; lower only for small test fixtures).
    random_seed : int, start vector of the truncated SVD.

    Attributes
    ----------
    item_embedding_ : float32 (items × k), PureSVD right singular vectors.
    feature_mean_, feature_scale_ : float64 (k + 1), standardisation of the user features.
    action_ids_, action_values_, action_expiration_, action_repeat_days_ : the Actions table.
    action_weights_ : float64 (actions × k + 1); action_bias_ : float64 (actions).
    action_scored_ : bool (actions), enough recent labels to report a propensity.
    taken_users_, taken_actions_, taken_times_ : each training user's latest TAKEN per action (repeat rule).

    References
    ----------
    P. Cremonesi, Y. Koren, R. Turrin, "Performance of Recommender Algorithms on Top-N Recommendation
    Tasks", RecSys 2010 (PureSVD); Amazon Personalize, "Next-Best-Action recipe" (aws-next-best-action).
    """

    _parameter_constraints = {
        **declared(ACTION_OPTIMIZATION_PERIOD),
        "embedding_dimension": Interval(int, 1, 512),
        "l2": Interval(float, 0.0, None),
        "min_action_interactions": Interval(int, 0, None),
        "random_seed": Interval(int, 0, None),
    }

    def __init__(
        self,
        *,
        action_optimization_period: int = ACTION_OPTIMIZATION_PERIOD.default,
        embedding_dimension: int = 16,
        l2: float = 1.0,
        min_action_interactions: int = 50,
        random_seed: int = 0,
    ) -> None:
        self.action_optimization_period = action_optimization_period
        self.embedding_dimension = embedding_dimension
        self.l2 = l2
        self.min_action_interactions = min_action_interactions
        self.random_seed = random_seed

    # ---- training --------------------------------------------------------------------------------
    def _fit(self, data: TrainingData) -> None:
        if not isinstance(data, ActionTrainingData) or data.actions is None or data.action_events is None:
            raise ValueError("Next-Best-Action needs an Actions dataset; the training data has none.")
        if len(data.actions.action_ids) == 0:
            raise ValueError("Next-Best-Action needs at least one action in the Actions dataset; found 0.")
        self._fit_embedding(data)
        table, events = data.actions, data.action_events
        self.action_ids_ = table.action_ids
        self.action_values_ = table.value
        self.action_expiration_ = table.expiration
        self.action_repeat_days_ = table.repeat_days
        self.action_scored_ = self._scored(events, len(table.action_ids))
        offsets = data.user_offsets()
        histories = Histories(data.item_idx.astype(np.int64), offsets)
        features = self._features(histories)
        users, actions, labels = episodes(events, self.action_optimization_period * DAY)
        rows = np.where(users >= 0, users, len(features))  # users without item data: the empty-history row
        empty = self._features(Histories.from_lists([np.zeros(0, np.int64)]))
        weights, bias = _logistic(np.vstack([features, empty])[rows], actions, labels, len(table.action_ids), self.l2)
        self.action_weights_, self.action_bias_ = weights, bias
        self._remember_taken(events)

    def _fit_embedding(self, data: TrainingData) -> None:
        matrix = data.user_item_matrix().astype(np.float64)
        k = max(1, min(self.embedding_dimension, min(matrix.shape) - 1))
        if matrix.nnz == 0 or min(matrix.shape) < 2:
            self.item_embedding_ = np.zeros((data.n_items, 1), dtype=np.float32)
        else:
            start = np.random.default_rng(self.random_seed).standard_normal(min(matrix.shape))
            _, _, vt = scipy.sparse.linalg.svds(matrix, k=k, v0=start)
            self.item_embedding_ = np.ascontiguousarray(vt.T, dtype=np.float32)
        self.feature_mean_ = np.zeros(self.item_embedding_.shape[1] + 1)
        self.feature_scale_ = np.ones(self.item_embedding_.shape[1] + 1)
        raw = self._features(Histories(data.item_idx.astype(np.int64), data.user_offsets()))
        self.feature_mean_ = raw.mean(axis=0)
        self.feature_scale_ = np.where(raw.std(axis=0) > 1e-12, raw.std(axis=0), 1.0)

    def _scored(self, events: ActionEvents, n_actions: int) -> np.ndarray:
        if len(events) == 0:
            return np.zeros(n_actions, dtype=bool)
        recent = events.timestamp >= events.timestamp.max() - SCORED_WINDOW_DAYS * DAY
        taken = np.bincount(events.action_idx[recent & events.taken], minlength=n_actions)
        other = np.bincount(events.action_idx[recent & ~events.taken], minlength=n_actions)
        return (taken >= self.min_action_interactions) & (other >= self.min_action_interactions)

    def _remember_taken(self, events: ActionEvents) -> None:
        """The latest TAKEN time per (user, action), so the repeat rule also covers bulk-imported history."""
        taken = events.subset(events.taken)
        order = np.lexsort((taken.timestamp, taken.action_idx, taken.user_ids))
        users, actions, times = taken.user_ids[order], taken.action_idx[order], taken.timestamp[order]
        last = np.ones(len(users), dtype=bool)
        last[:-1] = (users[1:] != users[:-1]) | (actions[1:] != actions[:-1])
        self.taken_users_, self.taken_actions_, self.taken_times_ = users[last], actions[last], times[last]

    # ---- features and scores ---------------------------------------------------------------------
    def _features(self, histories: Histories) -> np.ndarray:
        """Standardised [mean item embedding, log(1 + history length)] per history row."""
        lengths = histories.lengths()
        sums = _history_matrix(histories, len(self.item_embedding_)) @ self.item_embedding_.astype(np.float64)
        raw = np.hstack([sums / np.maximum(lengths, 1)[:, None], np.log1p(lengths)[:, None]])
        return (raw - self.feature_mean_) / self.feature_scale_

    def _score(self, histories: Histories) -> np.ndarray:
        """Item scores (PureSVD fold-in), so the model also answers the contract's item queries."""
        users = _history_matrix(histories, len(self.item_embedding_))
        return np.asarray(users @ self.item_embedding_) @ self.item_embedding_.T

    def action_scores(self, histories: Histories) -> np.ndarray:
        """Propensities (rows × actions) in [0, 1]; 0.0 for actions without enough interactions."""
        check_is_fitted(self)
        logits = self._features(histories) @ self.action_weights_.T + self.action_bias_
        return np.where(self.action_scored_, 1.0 / (1.0 + np.exp(-logits)), 0.0)

    # ---- the runtime query -----------------------------------------------------------------------
    def recommend_actions(
        self,
        history_item_ids: Sequence[str],
        *,
        user_id: str | None = None,
        action_history_ids: Sequence[str] = (),
        action_history_event_types: Sequence[str] = (),
        action_history_timestamps: Sequence[float] = (),
        num_results: int = 5,
        now: float | None = None,
        exclude_action_ids: Sequence[str] = (),
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``num_results`` (action ids, propensity scores) for a user, best first.

        Parameters
        ----------
        history_item_ids : the user's item interactions (unknown items are ignored).
        user_id : a training user's id, whose TAKEN actions the model remembers for the repeat rule.
        action_history_ids, action_history_event_types, action_history_timestamps : newer action
            interactions (PutActionInteractions) to apply the repeat rule to.
        now : epoch seconds the expiry and repeat rules are applied at (default: the current time).
        exclude_action_ids : actions never to return (filters).
        """
        check_is_fitted(self)
        now = time.time() if now is None else float(now)
        idx = self._indices(history_item_ids, keep_unknown=True)
        scores = self.action_scores(Histories.from_lists([idx[idx >= 0]]))[0]
        allowed = ~(self.action_expiration_ <= now)  # NaN (no expiry) compares False: stays allowed
        last_taken = self._last_taken(user_id, action_history_ids, action_history_event_types, action_history_timestamps)
        allowed &= ~(now < last_taken + self.action_repeat_days_ * DAY)  # NaN window or never taken: allowed
        excluded = lookup_sorted(self.action_ids_, np.asarray(list(exclude_action_ids), dtype=str))
        allowed[excluded[excluded >= 0]] = False
        order = rank_actions(scores, self.action_values_, allowed)[:num_results]
        return self.action_ids_[order], scores[order]

    def _last_taken(
        self, user_id: str | None, ids: Sequence[str], types: Sequence[str], times: Sequence[float]
    ) -> np.ndarray:
        """Latest TAKEN time per action for this user (NaN: never), from the model and the given history."""
        last = np.full(len(self.action_ids_), np.nan)
        if user_id is not None:
            mine = self.taken_users_ == user_id
            last[self.taken_actions_[mine]] = self.taken_times_[mine]
        if len(ids):
            if not len(ids) == len(types) == len(times):
                raise ValueError("action_history_ids, _event_types and _timestamps must have the same length.")
            actions = lookup_sorted(self.action_ids_, np.asarray(list(ids), dtype=str))
            taken = (actions >= 0) & np.asarray([normalise_event_type(t) == TAKEN for t in types], dtype=bool)
            stamps = np.asarray(list(times), dtype=np.float64)
            np.fmax.at(last, actions[taken], stamps[taken])
        return last


def _history_matrix(histories: Histories, n_items: int) -> sp.csr_matrix:
    """Rows × items counts of the histories (repeats add up, as in a mean over the history)."""
    rows = np.repeat(np.arange(len(histories)), histories.lengths())
    ones = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((ones, (rows, histories.items)), shape=(len(histories), n_items))


def rank_actions(scores: np.ndarray, values: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Indices of allowed actions by propensity (to SCORE_DECIMALS), then VALUE, then position (id order)."""
    candidates = np.flatnonzero(allowed)
    rounded = np.round(scores[candidates], SCORE_DECIMALS)
    value = np.nan_to_num(values[candidates], nan=0.0)
    return candidates[np.lexsort((candidates, -value, -rounded))]


def episodes(events: ActionEvents, period_seconds: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labelled (user index, action index, label) rows from action interactions (see the module docstring)."""
    if len(events) == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0, np.float64)
    _, user_code = np.unique(events.user_ids, return_inverse=True)
    pair = user_code.astype(np.int64) * (int(events.action_idx.max()) + 1) + events.action_idx
    key = (pair << 32) | events.timestamp  # epoch seconds < 2^32 until 2106; pairs < 2^31
    taken_keys, exposure_keys = np.sort(key[events.taken]), np.sort(key[~events.taken])
    exposures = ~events.taken
    # Exposure: the first TAKEN of the same pair at or after it, within the period.
    pos = np.searchsorted(taken_keys, key[exposures])
    nxt = taken_keys[np.minimum(pos, len(taken_keys) - 1)] if len(taken_keys) else key[exposures]
    converted = (pos < len(taken_keys)) & (nxt >> 32 == pair[exposures]) & (nxt - key[exposures] <= period_seconds)
    # TAKEN: prompted if an exposure of the same pair precedes it within the period (already counted).
    pos = np.searchsorted(exposure_keys, key[events.taken], side="right") - 1
    prev = exposure_keys[np.maximum(pos, 0)] if len(exposure_keys) else key[events.taken]
    prompted = (pos >= 0) & (prev >> 32 == pair[events.taken]) & (key[events.taken] - prev <= period_seconds)
    unprompted = np.flatnonzero(events.taken)[~prompted]
    rows = np.concatenate([np.flatnonzero(exposures), unprompted])
    labels = np.concatenate([converted.astype(np.float64), np.ones(len(unprompted))])
    return events.user_idx[rows], events.action_idx[rows], labels


def _logistic(
    features: np.ndarray, actions: np.ndarray, labels: np.ndarray, n_actions: int, l2: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-action logistic regressions fitted jointly: min Σ logloss + l2/2 ‖W‖² (bias unpenalised)."""
    dim = features.shape[1]
    if len(labels) == 0:
        return np.zeros((n_actions, dim)), np.zeros(n_actions)
    owner = sp.csr_matrix((np.ones(len(actions)), (actions, np.arange(len(actions)))), shape=(n_actions, len(actions)))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        weights, bias = theta[: n_actions * dim].reshape(n_actions, dim), theta[n_actions * dim :]
        logits = np.einsum("ij,ij->i", features, weights[actions]) + bias[actions]
        value = np.sum(np.logaddexp(0.0, logits) - labels * logits) + 0.5 * l2 * np.sum(weights**2)
        residual = 1.0 / (1.0 + np.exp(-logits)) - labels
        grad_w = owner @ (residual[:, None] * features) + l2 * weights
        grad_b = np.bincount(actions, weights=residual, minlength=n_actions)
        return float(value), np.concatenate([np.asarray(grad_w).ravel(), grad_b])

    result = scipy.optimize.minimize(loss, np.zeros(n_actions * (dim + 1)), jac=True, method="L-BFGS-B",
                                     options={"maxiter": 500})
    return result.x[: n_actions * dim].reshape(n_actions, dim), result.x[n_actions * dim :]


_LAUNCHED = launched("2023-04-20")
NEXT_BEST_ACTION_RECORD = RecipeRecord(
    "aws-next-best-action", PERSONALIZED_ACTIONS,
    Algorithm("aws-next-best-action", "action-propensity-model", (ACTION_OPTIMIZATION_PERIOD,), _LAUNCHED), None,
    "Recommends the actions (for example enrolling in a loyalty program) a user is most likely to take "
    "within the action optimization period, from actions and action interactions data.", _LAUNCHED, NextBestAction,
    capabilities=Capabilities(evaluation="actions", batch_inference=False),
    needs=DataNeeds(datasets=("INTERACTIONS", "ACTIONS")))
