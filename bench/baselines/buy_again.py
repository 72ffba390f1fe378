""""Buy again": the user's own past items, most often first, the most recent first among equals.

The rule every grocery or replenishment shop ships; a repeat-aware model must at least match it where people
come back to the same items. Items outside the history follow, by popularity.
"""

from __future__ import annotations

import numpy as np

from openpersonalize.recipes.base import Histories, Recipe, TrainingData


class BuyAgain(Recipe):
    """Score = (events on the item in the history) + (how recent its newest event is, in [0, 1)); items never in
    the history score their popularity, scaled into [-1, 0) so they come after every history item.

    Attributes
    ----------
    popularity_ : float32 (n_items,), distinct training users per item, scaled into [-1, 0).
    """

    def __init__(self) -> None:
        pass

    def _fit(self, data: TrainingData) -> None:
        counts = data.item_counts().astype(np.float64)
        self.popularity_ = (counts / (counts.max() + 1.0) - 1.0).astype(np.float32)

    def _score(self, histories: Histories) -> np.ndarray:
        scores = np.tile(self.popularity_, (len(histories), 1))
        for row in range(len(histories)):
            items = histories.row(row)
            if not len(items):
                continue
            counts = np.bincount(items, minlength=scores.shape[1])
            newest = np.zeros(scores.shape[1])
            newest[items] = (np.arange(len(items)) + 1.0) / (len(items) + 1.0)  # the last write per item wins
            seen = counts > 0
            scores[row, seen] = counts[seen] + newest[seen]
        return scores
