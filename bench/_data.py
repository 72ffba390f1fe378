"""Benchmark datasets as ``TrainingData``, read from ``../shared/data`` next to the repository.

The MovieLens / Instacart licences forbid redistribution, so nothing is copied into the repository; a
missing folder makes ``load`` raise ``DatasetMissing`` and the benchmark skips that case.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from openpersonalize.recipes.base import TrainingData

DATA_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data"


class DatasetMissing(FileNotFoundError):
    """The dataset's folder is absent; callers skip the case."""


def _folder(name: str) -> Path:
    folder = DATA_ROOT / name
    if not folder.is_dir():
        raise DatasetMissing(f"{folder} not found; skipping {name}.")
    return folder


def ml_1m_positive() -> TrainingData:
    """ml-1m, ratings ≥ 4 as one event type (the issue's first case)."""
    ratings = pl.read_csv(
        _folder("ml-1m") / "ratings.dat",
        has_header=False,
        separator=":",
        new_columns=["USER_ID", "_a", "ITEM_ID", "_b", "RATING", "_c", "TIMESTAMP"],
        schema_overrides={"USER_ID": pl.String, "ITEM_ID": pl.String},
    )
    frame = ratings.filter(pl.col("RATING") >= 4).select("USER_ID", "ITEM_ID", "TIMESTAMP")
    return TrainingData.from_frames(frame.with_columns(EVENT_TYPE=pl.lit("rating")))


def ml_latest_small_workshop() -> TrainingData:
    """ml-latest-small as AWS's workshop prepares it: `click` for rating > 1, `watch` for rating > 3."""
    ratings = pl.read_csv(
        _folder("ml-latest-small") / "ratings.csv", schema_overrides={"userId": pl.String, "movieId": pl.String}
    )
    base = ratings.select(USER_ID="userId", ITEM_ID="movieId", TIMESTAMP="timestamp", RATING="rating")
    clicks = base.filter(pl.col("RATING") > 1).with_columns(EVENT_TYPE=pl.lit("click"))
    watches = base.filter(pl.col("RATING") > 3).with_columns(EVENT_TYPE=pl.lit("watch"))
    # The workshop concatenates then sorts by time; a stable sort keeps click before watch on ties.
    frame = pl.concat([clicks, watches]).sort("TIMESTAMP", maintain_order=True)
    return TrainingData.from_frames(frame.select("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"))


DATASETS: dict[str, Callable[[], TrainingData]] = {
    "ml-1m": ml_1m_positive,
    "ml-latest-small": ml_latest_small_workshop,
}
