"""Popularity-Count (spec §5.4): the same list for everyone, items ordered by distinct users."""

from __future__ import annotations

import numpy as np

from ._records import GA, POPULAR_ITEMS, SIMS_FEATURIZATION, Algorithm, RecipeRecord
from .base import Histories, Recipe, TrainingData


class PopularityCount(Recipe):
    """Most popular items by number of distinct users; ignores the history.

    Attributes
    ----------
    popularity_ : float32 array, distinct training users per item.

    References
    ----------
    Amazon Personalize, "Popularity-Count recipe" (aws-popularity-count).
    """

    def __init__(self) -> None:
        pass

    def _fit(self, data: TrainingData) -> None:
        self.popularity_ = data.item_counts().astype(np.float32)

    def _score(self, histories: Histories) -> np.ndarray:
        return np.tile(self.popularity_, (len(histories), 1))


POPULARITY_COUNT_RECORD = RecipeRecord(
    "aws-popularity-count", POPULAR_ITEMS, Algorithm("aws-popularity-count", "unique-user-popularity-count", (), GA),
    SIMS_FEATURIZATION,
    "Recommends the items with the most unique users in the interactions data; the same list for every "
    "user. A baseline to compare other recipes against.", GA, PopularityCount)
