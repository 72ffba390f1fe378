"""Data insights of a dataset (issue 12), computed when an import commits and kept as a small JSON file beside it.

The console's dataset page reads this file instead of the data, so it renders in milliseconds at any size.
For Interactions: events per type and per day, the items' long tail (interactions of the items sorted by
popularity, as quantiles), interactions per user (power-of-two buckets), and the cold items and users (fewer
than ``COLD_BELOW`` interactions). For every dataset type: the row count and the distinct ids.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import polars as pl

from .objects import ObjectStore

FILE = "insights.json"
COLD_BELOW = 5  # Personalize's data insights flag items and users with few interactions
MAX_DAYS = 180  # the per-day series keeps the latest days
TAIL_POINTS = 100
TOP_TYPES = 20


def compute(frame: pl.DataFrame, dataset_type: str) -> dict[str, Any]:
    """The insights of one dataset's rows (see the module docstring)."""
    facts: dict[str, Any] = {"datasetType": dataset_type, "rows": frame.height, "computedAt": time.time()}
    for column in ("USER_ID", "ITEM_ID", "ACTION_ID"):
        if column in frame.columns:
            facts[f"distinct_{column}"] = int(frame[column].n_unique())
    if dataset_type == "INTERACTIONS" and frame.height and {"USER_ID", "ITEM_ID"} <= set(frame.columns):
        facts.update(_interactions(frame))
    return facts


def _interactions(frame: pl.DataFrame) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    if "EVENT_TYPE" in frame.columns:
        types = frame.group_by("EVENT_TYPE").len().sort("len", descending=True).head(TOP_TYPES)
        facts["eventsPerType"] = [[str(t), int(n)] for t, n in types.iter_rows()]
    if "TIMESTAMP" in frame.columns:
        days = (frame["TIMESTAMP"].cast(pl.Int64) // 86400).value_counts().sort("TIMESTAMP").tail(MAX_DAYS)
        first, last = int(days["TIMESTAMP"][0]), int(days["TIMESTAMP"][-1])
        counts = dict(zip(days["TIMESTAMP"].to_list(), days["count"].to_list()))
        facts["eventsPerDay"] = {"firstDay": time.strftime("%Y-%m-%d", time.gmtime(first * 86400)),
                                 "lastDay": time.strftime("%Y-%m-%d", time.gmtime(last * 86400)),
                                 "counts": [int(counts.get(d, 0)) for d in range(first, last + 1)]}
    item_counts = np.sort(frame["ITEM_ID"].value_counts()["count"].to_numpy())[::-1]
    user_counts = frame["USER_ID"].value_counts()["count"].to_numpy()
    positions = np.linspace(0, len(item_counts) - 1, min(TAIL_POINTS, len(item_counts))).astype(int)
    top_tenth = item_counts[: max(1, len(item_counts) // 10)].sum()
    facts["itemLongTail"] = {"counts": item_counts[positions].tolist(), "topTenthShare": float(top_tenth / item_counts.sum())}
    buckets = np.bincount(np.floor(np.log2(user_counts)).astype(int))
    facts["interactionsPerUser"] = [[f"{2 ** b}–{2 ** (b + 1) - 1}", int(n)] for b, n in enumerate(buckets)]
    facts["coldItems"] = int((item_counts < COLD_BELOW).sum())
    facts["coldUsers"] = int((user_counts < COLD_BELOW).sum())
    facts["coldBelow"] = COLD_BELOW
    return facts


def write(objects: ObjectStore, folder: str, facts: dict[str, Any]) -> None:
    """Publish the facts beside the dataset's objects (atomically: a reader never sees half of them)."""
    objects.put(folder + FILE, json.dumps(facts).encode())


def read(objects: ObjectStore, folder: str) -> dict[str, Any] | None:
    """The stored insights, or None before the first import committed."""
    try:
        return json.loads(objects.get(folder + FILE))  # type: ignore[no-any-return]
    except (FileNotFoundError, json.JSONDecodeError):
        return None
