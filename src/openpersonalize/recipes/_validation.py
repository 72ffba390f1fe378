"""A validation slice carved from the training data itself, the way the offline protocol cuts users.

Some users keep only their oldest events for fitting; their newest ~10 % become targets for choosing
epochs or blend weights, so nothing a model is tuned on was seen while fitting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._data import TrainingData
from .base import Histories

MIN_EVENTS = 5  # users with fewer events are never used for validation
MAX_USERS = 1000  # enough for a stable NDCG estimate; bounds the cost of each check


@dataclass(frozen=True)
class Holdout:
    fit: TrainingData  # the data to fit on (validation users' tails removed)
    inputs: Histories
    targets: Histories


def hold_out_tails(data: TrainingData, fraction: float, seed: int) -> Holdout | None:
    """Remove the newest 10 % of events of ``fraction`` of the users (≥ MIN_EVENTS events); None if none."""
    offsets = data.user_offsets()
    counts = np.diff(offsets)
    eligible = np.flatnonzero(counts >= MIN_EVENTS)
    n_valid = min(len(eligible), int(fraction * len(counts)), MAX_USERS)
    if n_valid == 0:
        return None
    users = np.sort(np.random.default_rng(seed).choice(eligible, size=n_valid, replace=False))
    cuts = offsets[users + 1] - np.maximum(1, counts[users] // 10)
    keep = np.ones(data.n_interactions, dtype=bool)
    inputs, types, times, targets = [], [], [], []
    for user, cut in zip(users, cuts, strict=True):
        keep[cut : offsets[user + 1]] = False
        inputs.append(data.item_idx[offsets[user] : cut])
        types.append(data.event_type[offsets[user] : cut])
        times.append(data.timestamp[offsets[user] : cut])
        targets.append(np.unique(data.item_idx[cut : offsets[user + 1]]))
    return Holdout(data.select(keep), Histories.from_lists(inputs, types, times), Histories.from_lists(targets))
