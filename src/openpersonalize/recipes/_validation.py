"""Validation slices carved from the training data itself, the way the offline protocols cut users.

Some users keep only their oldest events for fitting; their newest ~10 % become targets for choosing
epochs or blend weights, so nothing a model is tuned on was seen while fitting. Segmentation recipes validate
the way their protocol scores them (spec §9.1 item 2, ``evaluation/segments.py``): every user's newest 20 %
are test rows, and each queried item's test users are the relevant set of a top-1 % segment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._data import TrainingData
from .base import Histories

MIN_EVENTS = 5  # users with fewer events are never used for validation
MAX_USERS = 1000  # enough for a stable NDCG estimate; bounds the cost of each check
TRAIN_FRACTION = 0.8
TOP_FRACTION = 0.01
MAX_QUERIES = 500  # the batch segment job's own cap for item queries (spec §8.2); bounds evaluation time


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


def split_per_user(data: TrainingData) -> tuple[TrainingData, np.ndarray]:
    """(training data, boolean mask of test rows): the newest 20 % of each user's rows are test rows."""
    offsets = data.user_offsets()
    counts = np.diff(offsets)
    n_train = np.maximum(1, np.floor(TRAIN_FRACTION * counts + 0.5)).astype(np.int64)
    position = np.arange(data.n_interactions) - np.repeat(offsets[:-1], counts)
    test = position >= np.repeat(n_train, counts)  # rows are chronological within each user
    return data.select(~test), test


def segment_size(n_users: int) -> int:
    return max(1, math.ceil(TOP_FRACTION * n_users))


def item_queries(users: np.ndarray, items: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(item index, test users who interacted with it) for every item with test interactions."""
    if len(items) == 0:
        return []
    order = np.lexsort((users, items))
    users, items = users[order], items[order]
    starts = np.flatnonzero(np.r_[True, items[1:] != items[:-1]])
    bounds = np.append(starts, len(items))
    return [(int(items[a]), np.unique(users[a:b])) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def sample_queries(queries: list[tuple[object, np.ndarray]], seed: int) -> list[tuple[object, np.ndarray]]:
    """At most MAX_QUERIES of ``queries``, a seeded sample in their order."""
    if len(queries) <= MAX_QUERIES:
        return queries
    keep = np.sort(np.random.default_rng(seed).choice(len(queries), size=MAX_QUERIES, replace=False))
    return [queries[i] for i in keep]
