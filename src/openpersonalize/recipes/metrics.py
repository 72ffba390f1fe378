"""Personalize's offline metrics with their exact keys (spec §9.2), vectorised over users.

The evaluation reports them; recipes that validate while fitting (a blend scale, early stopping) score
themselves with the same function.
"""

from __future__ import annotations

import numpy as np

from .base import Histories

CUTOFFS = (5, 10, 25)
MRR_CUTOFF = 25


def metric_keys() -> list[str]:
    keys = ["coverage", f"mean_reciprocal_rank_at_{MRR_CUTOFF}"]
    keys += [f"normalized_discounted_cumulative_gain_at_{k}" for k in CUTOFFS]
    keys += [f"precision_at_{k}" for k in CUTOFFS]
    return keys


def compute_metrics(recommended: np.ndarray, targets: Histories, n_catalogue_items: int) -> dict[str, float]:
    """Metrics for top-25 lists ``recommended`` (users × ≥25 item indices, -1 = empty slot).

    ``targets`` holds each user's relevant item set T_u; ``n_catalogue_items`` is the number of distinct
    items in Interactions ∪ Items (the coverage denominator).
    """
    if len(targets) != recommended.shape[0]:
        raise ValueError(f"recommended has {recommended.shape[0]} rows but targets has {len(targets)}.")
    if len(targets) == 0:
        return dict.fromkeys(metric_keys(), 0.0)
    hits = _hits(recommended, targets)
    width = max(max(CUTOFFS), MRR_CUTOFF)
    if hits.shape[1] < width:  # shorter lists: the missing slots are misses
        hits = np.pad(hits, ((0, 0), (0, width - hits.shape[1])))
    n_relevant = targets.lengths()
    positions = np.arange(1, hits.shape[1] + 1)
    discounts = 1.0 / np.log2(positions + 1)
    out = {"coverage": _coverage(recommended, n_catalogue_items)}
    first = np.where(hits[:, :MRR_CUTOFF].any(axis=1), hits[:, :MRR_CUTOFF].argmax(axis=1) + 1, np.inf)
    out[f"mean_reciprocal_rank_at_{MRR_CUTOFF}"] = float(np.mean(1.0 / first))
    for k in CUTOFFS:
        dcg = (hits[:, :k] * discounts[:k]).sum(axis=1)
        ideal = np.cumsum(discounts[:k])[np.minimum(n_relevant, k) - 1]
        out[f"normalized_discounted_cumulative_gain_at_{k}"] = float(np.mean(dcg / ideal))
    for k in CUTOFFS:
        out[f"precision_at_{k}"] = float(np.mean(hits[:, :k].sum(axis=1) / k))
    return {key: out[key] for key in metric_keys()}


def _hits(recommended: np.ndarray, targets: Histories) -> np.ndarray:
    """Boolean users × positions: is the recommended item in the user's relevant set?"""
    n_users, width = recommended.shape
    if (targets.lengths() == 0).any():
        raise ValueError("Every evaluated user needs at least one relevant item.")
    users = np.repeat(np.arange(n_users), targets.lengths())
    width_items = int(max(recommended.max(initial=0), targets.items.max(initial=0))) + 1
    relevant = np.unique(users.astype(np.int64) * width_items + targets.items)
    keys = np.arange(n_users, dtype=np.int64)[:, None] * width_items + recommended
    found = np.isin(keys, relevant)
    return found & (recommended >= 0)


def _coverage(recommended: np.ndarray, n_catalogue_items: int) -> float:
    shown = np.unique(recommended[recommended >= 0])
    return float(len(shown) / max(n_catalogue_items, 1))
