"""Item metadata as vectors, and the scoring rule of recipes that can recommend items nobody interacted with.

Shared by Similar-Items (sparse TF-IDF of categorical, numeric and text columns) and Semantic-Similarity
(item text for the sentence encoder). Column roles come from the Items schema (spec §4.1) through
``TrainingData.item_roles``; without a schema only numeric columns are used, since a plain string column
is "accepted but not used for training".
"""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

from ._data import ITEM_ID, TrainingData
from .base import Histories, Recipe

CATEGORICAL, TEXTUAL, ITEM_NAME, NUMERIC = "categorical", "textual", "item_name", "numeric"
MULTI_VALUE = "|"  # categorical multi-value separator (spec §4.4)
NUMERIC_BINS = 10  # numbers become quantile-bin one-hots, so "similar price" is a shared feature
TEXT_FEATURES = 2**18  # hashed vocabulary size: collisions are rare for item descriptions


def item_roles(data: TrainingData) -> dict[str, str]:
    """Column → role for the Items frame; numeric dtypes only when the data came without a schema."""
    if data.items is None:
        return {}
    if data.item_roles is not None:
        return {c: r for c, r in data.item_roles.items() if c in data.items.columns and c != ITEM_ID}
    return {c: NUMERIC for c, t in data.items.schema.items() if c != ITEM_ID and t.is_numeric()}


def item_text(data: TrainingData) -> np.ndarray:
    """Per catalogue item: its itemName and textual field joined by ". " ("" when it has neither)."""
    roles = item_roles(data)
    columns = [c for c in roles if roles[c] == ITEM_NAME] + [c for c in roles if roles[c] == TEXTUAL]
    if data.items is None or not columns:
        return np.full(data.n_items, "", dtype=object)
    parts = [pl.col(c).cast(pl.String).fill_null("").str.strip_chars() for c in columns]
    joined = data.items.select(pl.concat_str(parts, separator=". ").str.strip_chars(". ").alias("text"))
    return joined["text"].to_numpy().astype(object)


def metadata_matrix(data: TrainingData) -> sp.csr_matrix:
    """Items × features, TF-IDF weighted; each column family L2-normalised and weighted equally.

    Categorical values (multi-valued with ``|``) are one-hot, numbers quantile bins, itemName and the
    textual field hashed words. Rows of items without metadata are zero.
    """
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.preprocessing import normalize

    roles = item_roles(data)
    blocks: list[sp.csr_matrix] = []
    for column, role in roles.items():
        series = data.items[column] if data.items is not None else pl.Series(column, [])
        if role == CATEGORICAL:
            blocks.append(_one_hot(_categorical_values(series)))
        elif role == NUMERIC and series.dtype.is_numeric():
            blocks.append(_one_hot(_numeric_bins(series)))
    text = item_text(data)
    if any(text):
        hasher = HashingVectorizer(n_features=TEXT_FEATURES, alternate_sign=False, norm=None, stop_words="english")
        blocks.append(sp.csr_matrix(hasher.transform(list(text))))
    if not blocks:
        return sp.csr_matrix((data.n_items, 0), dtype=np.float32)
    weighted = [normalize(TfidfTransformer(sublinear_tf=True).fit_transform(b)) for b in blocks]
    return sp.csr_matrix(normalize(sp.hstack(weighted).tocsr()), dtype=np.float32)


def _categorical_values(series: pl.Series) -> list[list[str]]:
    cells = series.cast(pl.String).fill_null("").str.to_lowercase().str.split(MULTI_VALUE)
    return [[f"{series.name}={v.strip()}" for v in cell if v.strip()] for cell in cells.to_list()]


def _numeric_bins(series: pl.Series) -> list[list[str]]:
    values = series.cast(pl.Float64).to_numpy()
    finite = np.isfinite(values)
    if not finite.any():
        return [[] for _ in values]
    edges = np.unique(np.quantile(values[finite], np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1]))
    bins = np.searchsorted(edges, np.nan_to_num(values), side="right")
    return [[f"{series.name}#{b}"] if ok else [] for b, ok in zip(bins, finite, strict=True)]


def _one_hot(rows: list[list[str]]) -> sp.csr_matrix:
    vocabulary = {token: i for i, token in enumerate(sorted({t for row in rows for t in row}))}
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    columns = np.array([vocabulary[t] for row in rows for t in row], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    data = np.ones(len(columns), dtype=np.float32)
    return sp.csr_matrix((data, columns, indptr), shape=(len(rows), max(len(vocabulary), 1)))


def history_matrix(histories: Histories, n_items: int, weights: np.ndarray | None = None) -> sp.csr_matrix:
    """Users × items, one entry per distinct history item (an item seen twice counts once)."""
    rows = np.repeat(np.arange(len(histories)), histories.lengths())
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, histories.items)), shape=(len(histories), n_items)
    )
    matrix.data[:] = 1.0
    if weights is not None:
        matrix = sp.csr_matrix(matrix.multiply(weights[None, :].astype(np.float32)))
    return matrix


class ColdItemScoring(Recipe):
    """``final_scores`` for recipes that know items through metadata, not only through interactions.

    The base class hides items without training interactions; here an item is recommendable when it was
    interacted with *or* has a metadata vector (``servable_``, set by ``_fit``). Empty histories (an unknown
    item) still get the popularity order (spec §5.4: "unknown → popular").
    """

    servable_: np.ndarray

    def final_scores(self, histories: Histories) -> np.ndarray:
        scores = np.asarray(self._score(histories), dtype=np.float32)
        empty = histories.lengths() == 0
        if empty.any():
            popular = self.item_counts_ > 0 if self.item_counts_.any() else np.ones(len(self.item_counts_), bool)
            scores[empty] = np.where(popular, self.item_counts_.astype(np.float32), -np.inf)
        scores[:, ~self.servable_.astype(bool)] = -np.inf
        return scores
