"""Similar-Items (aws-similar-items): co-occurrence blended with item metadata, so cold items get neighbours.

Three similarities, each a cosine in [0, 1]-ish scale, are summed per query item:

- SIMS co-occurrence (the parent class), each row scaled to a maximum of 1;
- item-id embeddings: a truncated SVD (``item_id_hidden_dim``) of the cosine-normalised item × user matrix,
  which links items through shared neighbours even when they rarely co-occur directly;
- metadata embeddings: a truncated SVD (``item_metadata_hidden_dim``) of TF-IDF weighted categorical
  one-hots, numeric bins and hashed words of itemName and the textual field.

The collaborative parts of a query item are weighted by its warmth ``n / (n + cold_interactions)`` (n =
distinct users), and its metadata part by ``1 - warmth + metadata_weight × warmth``: an item with no
interactions is served purely from metadata, a popular one mostly from co-occurrence (spec §5.4: "handles
cold items (<5 interactions)"). Items with metadata but no interactions can be recommended too.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._item_features import ColdItemScoring, history_matrix, metadata_matrix
from ._params import Interval, declared, int_param
from ._records import RELATED_ITEMS, Algorithm, Capabilities, DataNeeds, RecipeRecord, launched
from .base import Histories, TrainingData
from .sims import MIN_COINTERACTION_COUNT, POPULARITY_DISCOUNT_FACTOR, SIMS

# AWS lets only HPO choose the two embedding sizes (spec §5.2: "HPO-only").
ITEM_ID_HIDDEN_DIM = int_param("item_id_hidden_dim", 100, 30, 200, tunable=True, hpo_only=True)
ITEM_METADATA_HIDDEN_DIM = int_param("item_metadata_hidden_dim", 100, 30, 200, tunable=True, hpo_only=True)


class SimilarItems(ColdItemScoring, SIMS):
    """Related items from co-occurrence, item-id embeddings and item metadata.

    Parameters
    ----------
    item_id_hidden_dim : int in [30, 200], dimensions of the item-id (interaction) embedding.
    item_metadata_hidden_dim : int in [30, 200], dimensions of the metadata embedding.
    metadata_weight : float ≥ 0, weight of metadata similarity for fully warm items.
    id_embedding_weight : float ≥ 0, weight of the item-id embedding next to raw co-occurrence.
    cold_interactions : int ≥ 1, the distinct-user count at which an item is half warm.
    popularity_discount_factor, min_cointeraction_count, max_neighbours : as in SIMS.
    random_seed : int, seeds the randomized SVDs.

    Attributes
    ----------
    item_id_factors_, metadata_factors_ : float32 (n_items × d), L2-normalised rows (zero = unknown).
    warmth_ : float32 per item, ``n / (n + cold_interactions)``.
    servable_ : bool per item, has interactions or metadata.

    References
    ----------
    Amazon Personalize, "Similar-Items recipe" (aws-similar-items); P. Cremonesi, Y. Koren, R. Turrin,
    "Performance of recommender algorithms on top-N recommendation tasks" (PureSVD), RecSys 2010.
    """

    _parameter_constraints = {
        **SIMS._parameter_constraints,
        **declared(ITEM_ID_HIDDEN_DIM, ITEM_METADATA_HIDDEN_DIM),
        "metadata_weight": Interval(float, 0.0, None),
        "id_embedding_weight": Interval(float, 0.0, None),
        "cold_interactions": Interval(int, 1, None),
        "random_seed": Interval(int, 0, None),
    }

    def __init__(
        self,
        *,
        item_id_hidden_dim: int = ITEM_ID_HIDDEN_DIM.default,
        item_metadata_hidden_dim: int = ITEM_METADATA_HIDDEN_DIM.default,
        metadata_weight: float = 0.3,
        id_embedding_weight: float = 1.0,
        cold_interactions: int = 5,
        popularity_discount_factor: float = POPULARITY_DISCOUNT_FACTOR.default,
        min_cointeraction_count: int = MIN_COINTERACTION_COUNT.default,
        max_neighbours: int = 100,
        random_seed: int = 0,
    ) -> None:
        super().__init__(
            popularity_discount_factor=popularity_discount_factor,
            min_cointeraction_count=min_cointeraction_count,
            max_neighbours=max_neighbours,
        )
        self.item_id_hidden_dim = item_id_hidden_dim
        self.item_metadata_hidden_dim = item_metadata_hidden_dim
        self.metadata_weight = metadata_weight
        self.id_embedding_weight = id_embedding_weight
        self.cold_interactions = cold_interactions
        self.random_seed = random_seed

    def _fit(self, data: TrainingData) -> None:
        super()._fit(data)
        similarity = self._similarity()
        row_max = np.asarray(similarity.max(axis=1).todense()).ravel()
        self.similarity_data_ = (self.similarity_data_ / np.repeat(row_max.clip(min=1e-12), np.diff(self.similarity_indptr_))).astype(np.float32)
        binary = data.user_item_matrix()
        self.item_id_factors_ = _embed(_row_normalised(sp.csr_matrix(binary.T)), self.item_id_hidden_dim, self.random_seed)
        self.metadata_factors_ = _embed(metadata_matrix(data), self.item_metadata_hidden_dim, self.random_seed)
        counts = data.item_counts().astype(np.float32)
        self.warmth_ = (counts / (counts + self.cold_interactions)).astype(np.float32)
        self.servable_ = (counts > 0) | (np.abs(self.metadata_factors_).sum(axis=1) > 0)

    def _similarity(self) -> sp.csr_matrix:
        n_items = len(self.similarity_indptr_) - 1
        return sp.csr_matrix(
            (self.similarity_data_, self.similarity_indices_, self.similarity_indptr_), shape=(n_items, n_items)
        )

    def _score(self, histories: Histories) -> np.ndarray:
        n_items = len(self.warmth_)
        warm = history_matrix(histories, n_items, self.warmth_)
        meta = history_matrix(histories, n_items, 1.0 - self.warmth_ + self.metadata_weight * self.warmth_)
        scores = np.asarray((warm @ self._similarity()).todense(), dtype=np.float32)
        scores += self.id_embedding_weight * _through(warm, self.item_id_factors_)
        scores += _through(meta, self.metadata_factors_)
        # Ties (nothing known about the query) fall back to popularity rather than arbitrary order.
        return scores + 1e-6 * self.warmth_


def _row_normalised(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ matrix)


def _embed(features: sp.csr_matrix, dim: int, seed: int) -> np.ndarray:
    """Rows → ``dim``-dimensional L2-normalised vectors by randomized truncated SVD (zero rows stay zero)."""
    features = features[:, np.flatnonzero(features.getnnz(axis=0))]  # hashed text leaves most columns empty
    n_rows, n_cols = features.shape
    rank = min(dim, n_rows - 1, n_cols - 1)
    if rank < 1 or features.nnz == 0:
        return np.zeros((n_rows, max(min(dim, n_cols), 0)), dtype=np.float32)
    from sklearn.decomposition import TruncatedSVD

    vectors = TruncatedSVD(n_components=rank, algorithm="randomized", n_iter=3, random_state=seed).fit_transform(features)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.where(norms > 1e-9, vectors / np.maximum(norms, 1e-12), 0.0).astype(np.float32)


def _through(weights: sp.csr_matrix, factors: np.ndarray) -> np.ndarray:
    """Σ over history items of cosine(item, every item), clipped at 0 (dissimilar is not negative evidence)."""
    if factors.shape[1] == 0:
        return np.zeros(weights.shape, dtype=np.float32)
    query = np.asarray(weights @ factors, dtype=np.float32)
    return np.maximum(query @ factors.T, 0.0)


_LAUNCHED = launched("2022-09-29")
SIMILAR_ITEMS_RECORD = RecipeRecord(
    "aws-similar-items", RELATED_ITEMS,
    Algorithm("aws-similar-items", "cooccurrence-metadata-similarity", (ITEM_ID_HIDDEN_DIM, ITEM_METADATA_HIDDEN_DIM),
              _LAUNCHED),
    None,
    "Recommends items similar to a given item from co-occurrence in user histories and item metadata "
    "(including text), so items with few interactions still get similar items.", _LAUNCHED, SimilarItems,
    capabilities=Capabilities(evaluation="related"),
    needs=DataNeeds(min_unique_interactions=1000))  # spec §4.8
