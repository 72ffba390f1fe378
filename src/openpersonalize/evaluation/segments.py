"""Offline metrics of USER_SEGMENTATION recipes (spec §9.1 item 2, §9.2).

Split: every user's chronologically first 80 % of interactions train the model, the last 20 % are the test
set. Queries: the items (Item-Affinity) or single attribute values (Item-Attribute-Affinity) that test
interactions touch. For each query the model returns its top K = 1 % of users; with R the users who
interacted with the query in the test set:

- ``hits_at_1_percent``   = mean |topK ∩ R| (an average count of users, as the docs define it);
- ``recall_at_1_percent`` = mean |topK ∩ R| / |R|;
- ``coverage``            = distinct users in any segment / users in the data (spec §9.2 "actions/users").
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import polars as pl

from .. import ranking
from ..data.schema import Schema
from ..recipes._attributes import RESERVED_ITEM_COLUMNS, SEPARATOR, AttributeIndex
from ..recipes._data import TrainingData, lookup_sorted
from ..recipes._validation import item_queries, sample_queries, segment_size, split_per_user
from .protocol import Evaluation

METRIC_KEYS = ("coverage", "hits_at_1_percent", "recall_at_1_percent")
TASKS = ("items", "attributes")


class SegmentModel(Protocol):
    """What the evaluation needs of a segmentation recipe (``recipes.affinity`` implements it)."""

    def fit(self, data: TrainingData) -> object: ...

    def users_for_items(self, item_ids: list[str], *, num_results: int) -> tuple[np.ndarray, np.ndarray]: ...


class AttributeSegmentModel(SegmentModel, Protocol):
    def users_for_attributes(self, expression: str, *, num_results: int) -> tuple[np.ndarray, np.ndarray]: ...


class MostActiveUsers:
    """Segmentation's popularity baseline: the most active training users, whatever the query."""

    def fit(self, data: TrainingData) -> MostActiveUsers:
        self.user_ids_ = data.user_ids
        self.activity_ = np.bincount(data.user_idx, minlength=data.n_users)
        return self

    def users_for_items(self, item_ids: list[str], *, num_results: int) -> tuple[np.ndarray, np.ndarray]:
        top = ranking.top_k(self.activity_, num_results)
        top = top[top >= 0]
        return self.user_ids_[top], self.activity_[top].astype(float)

    def users_for_attributes(self, expression: str, *, num_results: int) -> tuple[np.ndarray, np.ndarray]:
        return self.users_for_items([], num_results=num_results)


def attribute_items(items: pl.DataFrame | None, schema: Schema | None) -> pl.DataFrame:
    """The Items columns attribute expressions can use: non-textual, non-reserved (spec §4.8)."""
    if items is None:
        raise ValueError("Item-Attribute-Affinity needs an Items dataset in the dataset group; it has none.")
    textual = {f.name for f in schema.fields if f.textual} if schema is not None else set()
    keep = [c for c in items.columns if c not in textual]
    if all(c.upper() in RESERVED_ITEM_COLUMNS for c in keep):
        raise ValueError(
            "Item-Attribute-Affinity needs an Items dataset with at least one non-textual, non-reserved metadata "
            f"column; the Items columns are {items.columns}."
        )
    return items.select(keep)


def evaluate_segments(model: SegmentModel, data: TrainingData, *, task: str = "items", seed: int = 0,
                      query_columns: Sequence[str] | None = None) -> Evaluation:
    """Fit ``model`` on the 80 % split and score its top-1 % segments against the 20 % test interactions.

    ``query_columns`` limits attribute queries to those Items columns (None: every attribute column).
    """
    if task not in TASKS:
        raise ValueError(f"The 'task' parameter must be one of {TASKS}. Got {task!r} instead.")
    train, test = split_per_user(data)
    started = time.perf_counter()
    model.fit(train)
    trained = time.perf_counter()
    users, items = data.user_idx[test].astype(np.int64), data.item_idx[test].astype(np.int64)
    queries: list[tuple[object, np.ndarray]] = (
        list(item_queries(users, items)) if task == "items" else _attribute_queries(data, users, items, query_columns)
    )
    queries = sample_queries(queries, seed)
    k = segment_size(data.n_users)
    found: list[np.ndarray] = []
    hits, recalls = [], []
    for query, relevant in queries:
        if task == "items":
            ids, _ = model.users_for_items([str(data.item_ids[query])], num_results=k)
        else:
            ids, _ = model.users_for_attributes(str(query), num_results=k)  # type: ignore[attr-defined]
        chosen = lookup_sorted(data.user_ids, np.asarray(ids, dtype=str))
        found.append(chosen)
        n_hit = int(np.isin(chosen, relevant).sum())
        hits.append(n_hit)
        recalls.append(n_hit / len(relevant))
    finished = time.perf_counter()
    return Evaluation(_metrics(hits, recalls, found, data.n_users), trained - started, finished - trained)


def _metrics(hits: list[int], recalls: list[float], found: list[np.ndarray], n_users: int) -> dict[str, float]:
    if not hits:
        return dict.fromkeys(METRIC_KEYS, 0.0)
    shown = np.unique(np.concatenate(found)) if found else np.zeros(0)
    return {
        "coverage": float(len(shown) / max(n_users, 1)),
        "hits_at_1_percent": float(np.mean(hits)),
        "recall_at_1_percent": float(np.mean(recalls)),
    }


def _attribute_queries(
    data: TrainingData, users: np.ndarray, items: np.ndarray, columns: Sequence[str] | None
) -> list[tuple[object, np.ndarray]]:
    """(single-term expression, test users who interacted with an item having it) per attribute value.

    Vectorised as a join of the test rows with the index's (key, item) entries on the item.
    """
    index = AttributeIndex.build(data.items)
    entry_keys = np.repeat(np.arange(len(index.keys)), np.diff(index.indptr))
    order = np.argsort(index.items, kind="stable")
    low = np.searchsorted(index.items[order], items, side="left")
    counts = np.searchsorted(index.items[order], items, side="right") - low
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    entries = order[np.repeat(low, counts) + within]
    grouped = item_queries(np.repeat(users, counts), entry_keys[entries])
    wanted = None if columns is None else {c.upper() for c in columns}
    return [
        (index.expression_of(str(index.keys[key])), relevant) for key, relevant in grouped
        if wanted is None or str(index.keys[key]).partition(SEPARATOR)[0].upper() in wanted
    ]
