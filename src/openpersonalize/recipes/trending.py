"""Trending-Now (aws-trending-now): the items whose interactions grow fastest, the same list for everyone.

Interactions are counted in consecutive windows of ``trend_discovery_frequency`` that end at the data's
latest timestamp (spec §5.4: "largest increase in interactions between consecutive intervals"). Ranked is
the *forecast* increase from the current window to the next: Holt's linear trend smoothing over the last
``lookback_windows`` counts predicts the next one. The literal last-minus-previous difference anti-predicts
(an item that jumped by chance in one window falls back in the next: on ml-1m it captured 0.07 of the
next day's risers against popularity's 0.21 and the forecast's 0.32; bench/related.py).

Serving refreshes the list each interval without retraining: ``refresh`` recounts the windows from the
model's own recent events plus those that arrived since (PutEvents), and ``scores_from_counts`` turns any
window counts into the trend scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np

from ._params import Interval, choice_param
from ._records import POPULAR_ITEMS, Algorithm, Capabilities, DataNeeds, RecipeRecord, launched
from .base import Histories, Recipe, TrainingData, check_is_fitted

# The canonical spellings (spec §5.2), and the 2023 documentation's and other common ones (spec §12.1).
TREND_DISCOVERY_FREQUENCY = choice_param(
    "trend_discovery_frequency", "2 hours", ("30 minutes", "1 hour", "2 hours", "3 hours", "1 day"),
    scope="featurization",
    aliases=(("30 min", "30 minutes"), ("30 mins", "30 minutes"), ("1h", "1 hour"), ("60 minutes", "1 hour"),
             ("2h", "2 hours"), ("3h", "3 hours"), ("1d", "1 day"), ("24 hours", "1 day"), ("24h", "1 day")))
SECONDS = {"30 minutes": 1800, "1 hour": 3600, "2 hours": 7200, "3 hours": 10800, "1 day": 86400}
MAX_RECENT_EVENTS = 5_000_000  # events kept for refresh: bounds the model at ~60 MB on the busiest catalogue


def frequency_seconds(text: str) -> int:
    """``"2 hours"`` / ``"2h"`` / ``" 2  Hours "`` → 7200; InvalidParameterError naming the accepted values."""
    TREND_DISCOVERY_FREQUENCY.check("TrendingNow", TREND_DISCOVERY_FREQUENCY.name, text)
    return SECONDS[str(TREND_DISCOVERY_FREQUENCY.parse(text))]


def window_counts(items: np.ndarray, times: np.ndarray, *, now: float, window: float, n_windows: int,
                  n_items: int) -> np.ndarray:
    """Interactions per (window, item), newest window first: window k covers (now-(k+1)w, now-kw].

    Events after ``now`` are not counted (an evaluation asks about a moment in the past).
    """
    age = (now - times.astype(np.float64)) / window
    k = np.floor(age).astype(np.int64)  # age in [k, k+1) ⟺ t in (now-(k+1)w, now-kw]
    keep = (age >= 0) & (k < n_windows)
    flat = k[keep] * n_items + items[keep].astype(np.int64)
    return np.bincount(flat, minlength=n_windows * n_items).reshape(n_windows, n_items).astype(np.float32)


def scores_from_counts(counts: np.ndarray, *, level_smoothing: float = 0.1, trend_smoothing: float = 0.05) -> np.ndarray:
    """Forecast increase per item from window counts (newest first): next window's count minus the current.

    Holt's linear exponential smoothing runs over the windows, oldest first; the forecast for the next
    window is ``level + trend``. Ties (items never seen in
    the look-back) are broken by their interactions in it, so the list is never in arbitrary order.
    """
    series = counts[::-1].astype(np.float64)  # oldest first
    # Start from the least-squares line through the look-back (so a steady riser is tracked from the first
    # window, not lagged), placed one step before the first window.
    position = np.arange(len(series), dtype=np.float64)
    centred = position - position.mean()
    trend = centred @ (series - series.mean(axis=0)) / max(float(centred @ centred), 1.0)
    level = series.mean(axis=0) - trend * (position.mean() + 1)
    for observed in series:
        previous = level
        level = level_smoothing * observed + (1 - level_smoothing) * (level + trend)
        trend = trend_smoothing * (level - previous) + (1 - trend_smoothing) * trend
    total = series.sum(axis=0)
    return (level + trend - series[-1] + 1e-3 * total / max(float(total.max(initial=0)), 1.0)).astype(np.float32)


class TrendingNow(Recipe):
    """Items ranked by how fast their interactions grow between consecutive time windows.

    Parameters
    ----------
    trend_discovery_frequency : str, the window length: ``30 minutes``, ``1 hour``, ``2 hours``, ``3 hours``
        or ``1 day`` (also the 2023 spellings ``30 min``, ``1h``, ``3h``).
    lookback_windows : int in [2, 200], how many consecutive windows the forecast reads.
    level_smoothing, trend_smoothing : floats in (0, 1], Holt's α and β (higher = shorter memory).
    popularity_weight : float ≥ 0, all-time popularity added as a prior, relative to the largest forecast
        (0 only breaks ties).

    Attributes
    ----------
    latest_timestamp_ : 0-d float64, the time the windows end at (latest interaction, or the last refresh).
    recent_items_, recent_times_ : the interactions inside the look-back, kept so ``refresh`` can recount.
    trend_scores_ : float32 per item, the forecast increase in the next window (higher = rising faster).
    popularity_ : float32 per item in [0, 1], distinct training users (the prior of ``popularity_weight``).

    References
    ----------
    Amazon Personalize, "Trending-Now recipe" (aws-trending-now): "items that are gaining popularity most
    rapidly … the largest increase in interactions between consecutive intervals".
    """

    _parameter_constraints = {
        "trend_discovery_frequency": TREND_DISCOVERY_FREQUENCY,
        "lookback_windows": Interval(int, 2, 200),
        "level_smoothing": Interval(float, 1e-6, 1.0),
        "trend_smoothing": Interval(float, 1e-6, 1.0),
        "popularity_weight": Interval(float, 0.0, None),
    }

    def __init__(self, *, trend_discovery_frequency: str = TREND_DISCOVERY_FREQUENCY.default, lookback_windows: int = 28,
                 level_smoothing: float = 0.1, trend_smoothing: float = 0.05, popularity_weight: float = 0.3) -> None:
        self.trend_discovery_frequency = trend_discovery_frequency
        self.lookback_windows = lookback_windows
        self.level_smoothing = level_smoothing
        self.trend_smoothing = trend_smoothing
        self.popularity_weight = popularity_weight

    @property
    def window_seconds(self) -> int:
        return frequency_seconds(self.trend_discovery_frequency)

    def _fit(self, data: TrainingData) -> None:
        now = float(data.timestamp.max())
        counts = data.item_counts().astype(np.float32)
        self.popularity_ = counts / max(float(counts.max(initial=0)), 1.0)
        self._keep_recent(data.item_idx.astype(np.int32), data.timestamp.astype(np.int64), now)
        self.trend_scores_ = self._trend(data.n_items)

    def _keep_recent(self, items: np.ndarray, times: np.ndarray, now: float) -> None:
        start = now - self.lookback_windows * self.window_seconds
        keep = np.flatnonzero(times > start)[-MAX_RECENT_EVENTS:]
        order = np.argsort(times[keep], kind="stable")
        self.recent_items_ = items[keep][order]
        self.recent_times_ = times[keep][order]
        self.latest_timestamp_ = np.asarray(now, dtype=np.float64)

    def _trend(self, n_items: int) -> np.ndarray:
        counts = window_counts(self.recent_items_, self.recent_times_, now=float(self.latest_timestamp_),
                               window=self.window_seconds, n_windows=self.lookback_windows, n_items=n_items)
        scores = scores_from_counts(counts, level_smoothing=self.level_smoothing, trend_smoothing=self.trend_smoothing)
        # A forecast from a few events per window is mostly noise, and popular items are the likelier risers in
        # absolute numbers: all-time popularity is the prior, scaled to the largest forecast. Measured by rolling
        # accuracy (bench/related.py), weight 0 → 0.3: ml-latest-small 1 day 0.088 → 0.193, 2 hours 0.011 → 0.137;
        # ml-1m 1 day 0.317 → 0.344, 2 hours 0.306 → 0.364 (3 and 10 fall towards Popularity-Count's 0.09–0.21).
        scale = max(float(np.abs(scores).max(initial=0.0)), 1e-4)
        return scores + max(self.popularity_weight, 1e-4) * scale * self.popularity_

    def refresh(self, item_ids: Sequence[str] = (), timestamps: Sequence[float] = (), *,
                now: float | None = None) -> Self:
        """Recompute the trend with interactions that arrived after training, as of ``now``.

        ``item_ids`` / ``timestamps`` are the new interactions (items unknown to the model are ignored: the
        list only holds catalogue items); ``now`` defaults to the newest timestamp seen. Serving calls this
        once per ``trend_discovery_frequency``.
        """
        check_is_fitted(self)
        idx = self._indices(list(item_ids), keep_unknown=True)
        stamps = np.asarray(list(timestamps), dtype=np.int64)
        if len(stamps) != len(idx):
            raise ValueError(f"refresh got {len(idx)} item ids but {len(stamps)} timestamps.")
        items = np.concatenate([self.recent_items_, idx[idx >= 0].astype(np.int32)])
        times = np.concatenate([self.recent_times_, stamps[idx >= 0]])
        latest = max(float(self.latest_timestamp_), float(times.max(initial=0)))
        self._keep_recent(items, times, latest if now is None else float(now))
        self.trend_scores_ = self._trend(len(self.item_ids_))
        return self

    def _score(self, histories: Histories) -> np.ndarray:
        return np.tile(self.trend_scores_, (len(histories), 1))

    def final_scores(self, histories: Histories) -> np.ndarray:
        # The list ignores the user, so an empty history gets the trend too (not the base's popularity).
        # Items new since training become eligible once refresh has seen their events (a non-zero score).
        scores = np.asarray(self._score(histories), dtype=np.float32)
        scores[:, (self.item_counts_ == 0) & (self.trend_scores_ == 0)] = -np.inf
        return scores


_LAUNCHED = launched("2022-07-20")
TRENDING_NOW_RECORD = RecipeRecord(
    "aws-trending-now", POPULAR_ITEMS,
    Algorithm("aws-trending-now-custom", "interval-trend-detector", (TREND_DISCOVERY_FREQUENCY,), _LAUNCHED),
    None,
    "Recommends the items whose interactions grow fastest between consecutive time intervals "
    "(trend_discovery_frequency); the same list for every user.", _LAUNCHED, TrendingNow,
    # spec §2.10: no batch inference; spec §4.8: 1000 unique interactions
    capabilities=Capabilities(evaluation="trending", batch_inference=False),
    needs=DataNeeds(min_unique_interactions=1000))
