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


@dataclass(frozen=True)
class RepeatModel:
    """``table[type, rank]`` = P(reappears); ``table[0, MAX_RANK]`` holds the new-items-per-event rate."""

    table: np.ndarray

    @staticmethod
    def fit_table(items: np.ndarray, types: np.ndarray, offsets: np.ndarray, n_types: int) -> np.ndarray:
        hits = np.zeros((max(n_types, 1), MAX_RANK))
        totals = np.zeros_like(hits)
        new_items, inputs = 0.0, 0.0
        for user in range(len(offsets) - 1):
            lo, hi = int(offsets[user]), int(offsets[user + 1])
            for share in CUTS:
                cut = lo + int(np.floor(share * (hi - lo) + 0.5))
                if cut <= lo or cut >= hi:
                    continue
                future = np.unique(items[cut:hi])
                distinct, last_type, rank = _recent_distinct(items[lo:cut], types[lo:cut])
                near = rank < MAX_RANK
                np.add.at(totals, (last_type[near], rank[near]), 1.0)
                np.add.at(hits, (last_type[near], rank[near]), np.isin(distinct[near], future))
                new_items += len(np.setdiff1d(future, distinct, assume_unique=True))
                inputs += cut - lo
        table = np.zeros((hits.shape[0], MAX_RANK + 1), dtype=np.float32)
        table[:, :MAX_RANK] = (hits + 0.01) / (totals + 1.0)  # light smoothing toward 0 for unseen cells
        table[0, MAX_RANK] = new_items / max(inputs, 1.0)
        return table

    @property
    def new_item_rate(self) -> float:
        """Distinct new items in the future per input event (scales a next-item softmax to a window)."""
        return float(self.table[0, MAX_RANK])

    def blend(self, future: np.ndarray, histories: Histories, weight: float) -> np.ndarray:
        """P(item in near future) = q + (1 − q)·f: the repeat probability q joins the model's estimate f."""
        future = np.array(future, dtype=np.float32)
        for row in range(len(histories)):
            types = histories.types_row(row)
            types = np.zeros(len(histories.row(row)), np.int64) if types is None else types
            distinct, last_type, rank = _recent_distinct(histories.row(row), types)
            near = (rank < MAX_RANK) & (last_type >= 0) & (last_type < self.table.shape[0])
            q = weight * self.table[last_type[near], rank[near]]
            cols = distinct[near]
            future[row, cols] = q + (1.0 - q) * future[row, cols]
        return future


def _recent_distinct(items: np.ndarray, types: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct items, the event type of each one's latest occurrence, and recency rank (0 = newest)."""
    newest_first = items[::-1]
    distinct, first = np.unique(newest_first, return_index=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return distinct, np.asarray(types[::-1][first], dtype=np.int64), rank
