"""Repeat-aware scoring: how likely an item already in the history is to come back soon.

Many logs re-visit items (a `click` then a `watch` of the same film, re-purchases). A next-item network
spreads that mass thinly; RepeatNet (Ren et al., AAAI 2019) splits "repeat" from "explore" instead. We
fit the repeat side by counting, on training users cut exactly like the offline protocol (oldest 90 % as
input, newest 10 % as future): the probability that a history item reappears, by the item's recency rank
among distinct history items and the event type of its latest occurrence. The explore side is the
network's softmax, scaled to the expected number of new items. Both are probabilities of "appears in the
user's near future", so they share one scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Histories

MAX_RANK = 64  # items further back than this many distinct items get no repeat score
CUTS = (0.9, 0.8, 0.7)  # protocol-style cut points per training user (more cuts, steadier counts)
# Buckets of the time since the item's latest event, measured from the history's newest event: the same
# second (one batch of events), a minute, an hour, a day, a month, older. The last bucket is "unknown".
GAP_EDGES = np.array([1.0, 60.0, 3600.0, 86400.0, 30 * 86400.0])
UNKNOWN_GAP = len(GAP_EDGES) + 1


@dataclass(frozen=True)
class RepeatModel:
    """``table[type, rank, gap]`` = P(a history item reappears in the user's near future)."""

    table: np.ndarray
    rate: float  # distinct new items in the near future per input event
    items: np.ndarray  # per item: how much likelier than average its users are to come back to it

    @staticmethod
    def empty(n_types: int, n_items: int) -> RepeatModel:
        """The model of a log without repeats: every probability 0."""
        table = np.zeros((max(n_types, 1), MAX_RANK, UNKNOWN_GAP + 1), dtype=np.float32)
        return RepeatModel(table, 0.0, np.ones(n_items, dtype=np.float32))

    @staticmethod
    def fit(
        items: np.ndarray, types: np.ndarray, times: np.ndarray, offsets: np.ndarray, n_types: int, n_items: int
    ) -> RepeatModel:
        shape = (max(n_types, 1), MAX_RANK, UNKNOWN_GAP + 1)
        hits, totals = np.zeros(shape), np.zeros(shape)
        new_items, inputs = 0.0, 0.0
        for user in range(len(offsets) - 1):
            lo, hi = int(offsets[user]), int(offsets[user + 1])
            for share in CUTS:
                cut = lo + int(np.floor(share * (hi - lo) + 0.5))
                if cut <= lo or cut >= hi:
                    continue
                future = np.unique(items[cut:hi])
                distinct, last_type, rank, gap = _recent_distinct(items[lo:cut], types[lo:cut], times[lo:cut])
                near = rank < MAX_RANK
                cells = (last_type[near], rank[near], gap[near])
                found = np.isin(distinct[near], future)
                for gaps in (cells[2], np.full(near.sum(), UNKNOWN_GAP)):  # also the marginal over gaps
                    np.add.at(totals, (cells[0], cells[1], gaps), 1.0)
                    np.add.at(hits, (cells[0], cells[1], gaps), found)
                new_items += len(np.setdiff1d(future, distinct, assume_unique=True))
                inputs += cut - lo
        table = ((hits + 0.01) / (totals + 1.0)).astype(np.float32)  # light smoothing toward 0
        return RepeatModel(table, new_items / max(inputs, 1.0), _item_propensity(items, offsets, n_items))

    def blend(self, future: np.ndarray, histories: Histories, weight: float) -> np.ndarray:
        """P(item in near future) = q + (1 − q)·f: the repeat probability q joins the model's estimate f."""
        future = np.array(future, dtype=np.float32)
        for row in range(len(histories)):  # per user: a handful of vectorised operations
            items = histories.row(row)
            types = histories.types_row(row)
            types = np.zeros(len(items), np.int64) if types is None else types
            distinct, last_type, rank, gap = _recent_distinct(items, types, histories.times_row(row))
            near = (rank < MAX_RANK) & (last_type >= 0) & (last_type < self.table.shape[0])
            cols = distinct[near]
            q = np.minimum(0.99, weight * self.table[last_type[near], rank[near], gap[near]] * self.items[cols])
            future[row, cols] = q + (1.0 - q) * future[row, cols]
        return future


def _item_propensity(items: np.ndarray, offsets: np.ndarray, n_items: int, prior: float = 5.0) -> np.ndarray:
    """Per item: (share of its users with ≥ 2 events on it) / (the same share over all items), smoothed.

    Some items are revisited far more than others (a film worth watching after the click, a staple
    re-bought weekly); the repeat table is per position, this scales it per item.
    """
    users = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    pairs, counts = np.unique(users.astype(np.int64) * n_items + items, return_counts=True)
    item_of_pair = pairs % n_items
    seen = np.bincount(item_of_pair, minlength=n_items).astype(np.float64)
    repeated = np.bincount(item_of_pair, weights=(counts >= 2).astype(np.float64), minlength=n_items)
    overall = repeated.sum() / max(seen.sum(), 1.0)
    if overall == 0:
        return np.ones(n_items, dtype=np.float32)
    return (((repeated + prior * overall) / (seen + prior)) / overall).astype(np.float32)


def _recent_distinct(
    items: np.ndarray, types: np.ndarray, times: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct items with their latest event's type, recency rank (0 = newest) and time-gap bucket."""
    newest_first = items[::-1]
    distinct, first = np.unique(newest_first, return_index=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    if times is None or len(times) == 0:
        gap = np.full(len(first), UNKNOWN_GAP, dtype=np.int64)
    else:
        gap = np.searchsorted(GAP_EDGES, times[-1] - times[::-1][first], side="right").astype(np.int64)
    return distinct, np.asarray(types[::-1][first], dtype=np.int64), rank, gap
