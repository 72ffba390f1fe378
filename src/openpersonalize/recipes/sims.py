"""SIMS: item-item co-occurrence with a popularity discount, kept sparse (top neighbours).

SIMS (aws-sims) counts, for every item pair, the users who interacted with both, drops pairs seen fewer
than ``min_cointeraction_count`` times and divides by popularity so that blockbusters do not dominate every
list. With ``popularity_discount_factor`` β the similarity is ``c_ij / (n_i^β n_j^β)``: β = 0.5 is the
cosine of item-kNN, β = 0 raw counts. A history is scored by summing its items' rows (item-kNN).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._params import Interval, declared, float_param, int_param, user_percentiles
from ._records import GA, RELATED_ITEMS, SIMS_FEATURIZATION, Algorithm, Capabilities, RecipeRecord
from .base import Histories, Recipe, TrainingData

POPULARITY_DISCOUNT_FACTOR = float_param("popularity_discount_factor", 0.5, 0.0, 1.0, tunable=True)
MIN_COINTERACTION_COUNT = int_param("min_cointeraction_count", 3, 0, 10, tunable=True)


class SIMS(Recipe):
    """Item-to-item similarity from co-occurrence in user histories.

    Parameters
    ----------
    popularity_discount_factor : float in [0, 1], the exponent β of the popularity discount.
    min_cointeraction_count : int in [0, 10], pairs seen by fewer users are dropped.
    max_neighbours : int ≥ 1, similar items kept per item (bounds the model size).

    Attributes
    ----------
    similarity_data_, similarity_indices_, similarity_indptr_ : the items × items CSR similarity.

    References
    ----------
    Amazon Personalize, "SIMS recipe"; B. Sarwar et al., "Item-based collaborative filtering
    recommendation algorithms", WWW 2001.
    """

    _parameter_constraints = {
        **declared(POPULARITY_DISCOUNT_FACTOR, MIN_COINTERACTION_COUNT),
        "max_neighbours": Interval(int, 1, None),
    }

    def __init__(
        self,
        *,
        popularity_discount_factor: float = POPULARITY_DISCOUNT_FACTOR.default,
        min_cointeraction_count: int = MIN_COINTERACTION_COUNT.default,
        max_neighbours: int = 100,
    ) -> None:
        self.popularity_discount_factor = popularity_discount_factor
        self.min_cointeraction_count = min_cointeraction_count
        self.max_neighbours = max_neighbours

    def _fit(self, data: TrainingData) -> None:
        binary = data.user_item_matrix()
        counts = (binary.T @ binary).tocsr().astype(np.float32)
        counts.setdiag(0)
        counts.data[counts.data < max(self.min_cointeraction_count, 1)] = 0
        counts.eliminate_zeros()
        discount = np.asarray(binary.sum(axis=0)).ravel().clip(min=1) ** -self.popularity_discount_factor
        similarity = sp.diags(discount) @ counts @ sp.diags(discount)
        similarity = _keep_top(similarity.tocsr(), self.max_neighbours)
        self.similarity_data_ = similarity.data.astype(np.float32)
        self.similarity_indices_ = similarity.indices.astype(np.int32)
        self.similarity_indptr_ = similarity.indptr.astype(np.int64)

    def _score(self, histories: Histories) -> np.ndarray:
        n_items = len(self.similarity_indptr_) - 1
        similarity = sp.csr_matrix(
            (self.similarity_data_, self.similarity_indices_, self.similarity_indptr_), shape=(n_items, n_items)
        )
        rows = np.repeat(np.arange(len(histories)), histories.lengths())
        weights = np.ones(len(rows), dtype=np.float32)
        users = sp.csr_matrix((weights, (rows, histories.items)), shape=(len(histories), n_items))
        users.data[:] = 1.0  # an item seen twice counts once
        scores = np.asarray((users @ similarity).todense(), dtype=np.float32)
        # Ties (e.g. no co-occurring item) fall back to popularity instead of arbitrary order.
        popularity = np.asarray(similarity.getnnz(axis=0), dtype=np.float32)
        return scores + 1e-6 * popularity / max(float(popularity.max(initial=0)), 1.0)


def _keep_top(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the k largest entries of every row (vectorised: sort each row's slice by value)."""
    lengths = np.diff(matrix.indptr)
    if lengths.max(initial=0) <= k:
        return matrix
    rows = np.repeat(np.arange(matrix.shape[0]), lengths)
    order = np.lexsort((-matrix.data, rows))  # by row, then by value descending
    rank = np.arange(len(order)) - np.repeat(matrix.indptr[:-1], lengths)
    keep = order[rank < k]
    kept = sp.csr_matrix((matrix.data[keep], (rows[keep], matrix.indices[keep])), shape=matrix.shape)
    kept.sort_indices()
    return kept


SIMS_RECORD = RecipeRecord(
    "aws-sims", RELATED_ITEMS,
    Algorithm("aws-sims", "item-cooccurrence-sims", (
        POPULARITY_DISCOUNT_FACTOR,
        MIN_COINTERACTION_COUNT,
        *user_percentiles(0.005, 0.995),
        float_param("min_item_interaction_count_percentile", 0.01, 0.0, 1.0, scope="featurization"),
        float_param("max_item_interaction_count_percentile", 0.9, 0.0, 1.0, scope="featurization"),
    ), GA),
    SIMS_FEATURIZATION,
    "Recommends items that users who interacted with a given item also interacted with (item-to-item "
    "co-occurrence with a popularity discount); unknown items get popular items.", GA, SIMS,
    capabilities=Capabilities(evaluation="related"))
