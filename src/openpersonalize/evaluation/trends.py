"""Trend prediction accuracy (spec §9.2, key ``trend_prediction_accuracy``) for POPULAR_ITEMS recipes.

For a test period (one window of the trend frequency), a model fitted on everything before the period
recommends 25 items; the metric is the popularity increase of those items over the period (its count minus
the previous window's) divided by the total increase of the period's actual top-25 risers. It is averaged
over the last ``periods`` windows that had any riser, so one quiet window does not decide it; 0.0 when none.
"""

from __future__ import annotations

import numpy as np

from ..recipes.base import Histories, Recipe, TrainingData, clone
from ..recipes.trending import TrendingNow, window_counts

TOP_K = 25
METRIC_KEY = "trend_prediction_accuracy"
DEFAULT_PERIODS = 5
MAX_WINDOWS_BACK = 500  # how far back windows with risers are looked for (a fit only where there is one)


def period_accuracy(recommended: np.ndarray, increase: np.ndarray, k: int = TOP_K) -> float | None:
    """Share of the best possible top-k increase that ``recommended`` captured, in [0, 1]; None if no riser."""
    best = np.sort(increase)[::-1][:k]
    ideal = float(best[best > 0].sum())
    if ideal <= 0:
        return None
    got = float(increase[recommended[recommended >= 0][:k]].sum())  # fallers count against the list
    return min(max(got / ideal, 0.0), 1.0)


def top_items(recipe: Recipe, data: TrainingData, now: float, k: int = TOP_K) -> np.ndarray:
    """The k items ``recipe`` (a fresh clone) lists for everyone after fitting on ``data``, as of ``now``."""
    model = clone(recipe).fit(data)
    if isinstance(model, TrendingNow):
        model.refresh(now=now)  # windows end at the period start, even if the last event came earlier
    return model.recommend_batch(Histories.from_lists([np.zeros(0, np.int64)]), num_results=k)[0]


def trend_prediction_accuracy(recipe: Recipe, data: TrainingData, *, window_seconds: float,
                              periods: int = DEFAULT_PERIODS, min_train_interactions: int = 1) -> float:
    """Mean accuracy over the last ``periods`` windows (counted back from the latest timestamp) that had risers.

    Windows without a riser are skipped, up to ``MAX_WINDOWS_BACK``: a log's last hours are often nearly empty
    (MovieLens), and scoring only those reported 0 for every model. 0.0 when no window had a riser.
    """
    latest = float(data.timestamp.max(initial=0))
    order = np.argsort(data.timestamp, kind="stable")
    times, items = data.timestamp[order].astype(np.float64), data.item_idx[order]
    scores: list[float] = []
    for p in range(MAX_WINDOWS_BACK):
        if len(scores) == periods:
            break
        end = latest - p * window_seconds
        start = end - window_seconds
        if np.searchsorted(times, start, side="right") < min_train_interactions:
            break
        lo, hi = np.searchsorted(times, [start - window_seconds, end], side="right")  # the two windows' events
        counts = window_counts(items[lo:hi], times[lo:hi], now=end, window=window_seconds, n_windows=2,
                               n_items=data.n_items)
        increase = counts[0] - counts[1]
        if (increase > 0).any():
            accuracy = period_accuracy(top_items(recipe, data.select(data.timestamp <= start), start), increase)
            if accuracy is not None:
                scores.append(accuracy)
    return float(np.mean(scores)) if scores else 0.0
