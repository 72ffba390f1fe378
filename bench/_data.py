"""Benchmark datasets as ``TrainingData``, read from ``../shared/data`` next to the repository.

The MovieLens / Instacart licences forbid redistribution, so nothing is copied into the repository; a
missing folder makes ``load`` raise ``DatasetMissing`` and the benchmark skips that case. The environment
variable BENCH_DATA_ROOT names another folder holding them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from openpersonalize.recipes.base import TrainingData

# BENCH_DATA_ROOT points elsewhere when the repository is checked out away from ``shared``
DATA_ROOT = Path(os.environ.get("BENCH_DATA_ROOT") or Path(__file__).resolve().parents[1].parent / "shared" / "data")


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


def instacart_purchases() -> TrainingData:
    """The Instacart sample as one `purchase` event per order line (593 users, complete order histories).

    The data has no clock, only each order's number, hour of day and days since the user's previous order, so
    timestamps are rebuilt: every user's last order falls on the same day (the dataset's snapshot), earlier
    orders lie back by the days between them, at their hour. The lines of one order share its timestamp and
    keep their cart order, as a client sending the basket in one PutEvents batch would.
    """
    lines = pl.read_csv(_folder("instacart-sample") / "order_products_sample.csv")
    orders = (
        lines.group_by("order_id")
        .agg(pl.col("user_id", "order_number", "order_hour_of_day", "days_since_prior_order").first())
        .sort("user_id", "order_number")
        .with_columns(day=pl.col("days_since_prior_order").fill_null(0).cum_sum().over("user_id"))
        .with_columns(day=pl.col("day") - pl.col("day").max().over("user_id"))
    )
    stamp = INSTACART_END + pl.col("day").cast(pl.Int64) * 86_400 + pl.col("order_hour_of_day").cast(pl.Int64) * 3600
    # two orders on one day can name hours out of order: the order number decides, so time never runs backwards
    orders = orders.with_columns(TIMESTAMP=stamp.cum_max().over("user_id"))
    frame = (
        lines.join(orders.select("order_id", "TIMESTAMP"), on="order_id")
        .sort("user_id", "order_number", "add_to_cart_order")
        .select(USER_ID=pl.col("user_id").cast(pl.String), ITEM_ID=pl.col("product_id").cast(pl.String),
                TIMESTAMP="TIMESTAMP", EVENT_TYPE=pl.lit("purchase"))
    )
    return TrainingData.from_frames(frame)


INSTACART_END = 1_493_596_800  # 2017-05-01, the dataset's release month

DATASETS: dict[str, Callable[[], TrainingData]] = {
    "ml-1m": ml_1m_positive,
    "ml-latest-small": ml_latest_small_workshop,
    "instacart": instacart_purchases,
}


def long_tail(*, users: int, items: int, interactions: int, tastes: int = 2000, seed: int = 0) -> pl.DataFrame:
    """A generated Interactions frame with a realistic long tail, for catalogues too large for real data.

    Every item belongs to one of ``tastes`` groups and has a Zipf popularity (exponent 1, so a few thousand
    items take half the events and most of a 1M catalogue sees a handful); every user has two tastes and
    picks each event from one of them by popularity, or (one event in five) from the whole catalogue. Users
    have a log-normal number of events (mean interactions/users). Columns: USER_ID, ITEM_ID, TIMESTAMP,
    EVENT_TYPE ("click"), plus GENRE (the item's taste) for an Items table.
    """
    rng = np.random.default_rng(seed)
    weight = 1.0 / (rng.permutation(items) + 10.0)  # Zipf over a random ordering of the ids
    taste = rng.integers(tastes, size=items)
    by_taste = np.argsort(taste, kind="stable")
    cumulative = np.cumsum(weight[by_taste])
    bounds = np.searchsorted(taste[by_taste], np.arange(tastes + 1))
    lengths = np.maximum(1, rng.lognormal(0.0, 0.8, size=users))
    lengths = np.maximum(1, np.round(lengths * interactions / lengths.sum())).astype(np.int64)
    user = np.repeat(np.arange(users), lengths)
    mine = rng.integers(tastes, size=(users, 2))[user, rng.integers(2, size=len(user))]
    low = np.where(bounds[mine] > 0, cumulative[np.maximum(bounds[mine] - 1, 0)], 0.0)
    high = cumulative[np.maximum(bounds[mine + 1] - 1, 0)]
    picked = np.searchsorted(cumulative, low + rng.random(len(user)) * (high - low), side="right")
    item = by_taste[np.minimum(picked, items - 1)]
    anywhere = rng.random(len(user)) < 0.2
    item[anywhere] = by_taste[np.searchsorted(cumulative, rng.random(int(anywhere.sum())) * cumulative[-1])]
    step = np.arange(len(user)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return pl.DataFrame({
        "USER_ID": np.char.add("u", user.astype(str)),
        "ITEM_ID": np.char.add("i", item.astype(str)),
        "TIMESTAMP": 1_700_000_000 + 600 * step + rng.integers(0, 86_400 * 30, size=users)[user],
        "EVENT_TYPE": np.full(len(user), "click"),
        "GENRE": np.char.add("g", taste[item].astype(str)),
    })


def movies(dataset: str) -> pl.DataFrame:
    """ITEM_ID, TITLE, GENRES from movies.csv (ml-latest-small) or movies.dat (ml-1m)."""
    if dataset == "ml-latest-small":
        frame = pl.read_csv(_folder(dataset) / "movies.csv", schema_overrides={"movieId": pl.String})
        return frame.select(ITEM_ID="movieId", TITLE="title", GENRES="genres")
    lines = (_folder(dataset) / "movies.dat").read_bytes().decode("latin-1").splitlines()
    rows = [line.split("::") for line in lines if line]
    return pl.DataFrame({"ITEM_ID": [r[0] for r in rows], "TITLE": [r[1] for r in rows], "GENRES": [r[2] for r in rows]})
