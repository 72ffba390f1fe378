"""Trending-Now: frequency spellings, window counting, the forecast on planted risers, refresh, and the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from openpersonalize.demo.generator import generate_vod
from openpersonalize.recipes.metrics import metric_keys
from openpersonalize.evaluation.trends import period_accuracy, trend_prediction_accuracy
from openpersonalize.recipes.base import InvalidParameterError, NotFittedError, Recipe, TrainingData
from openpersonalize.recipes.popularity import PopularityCount
from openpersonalize.recipes.trending import TrendingNow, frequency_seconds, scores_from_counts, window_counts

from ._api import group_with, metrics_of, train

HOUR, DAY = 3600, 86400
START = 1_700_000_000


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30 minutes", 1800), ("30 min", 1800), ("1 hour", 3600), ("1h", 3600), ("2 hours", 7200), ("2h", 7200),
     ("3 hours", 10800), ("3h", 10800), ("1 day", 86400), (" 1  Day ", 86400)],
)
def test_every_documented_spelling_of_the_frequency(text: str, seconds: int) -> None:
    assert frequency_seconds(text) == seconds


def test_unknown_frequency_is_named_in_the_error() -> None:
    data = planted_risers()
    with pytest.raises(InvalidParameterError, match=r"'trend_discovery_frequency' parameter of TrendingNow.*'5 hours'"):
        TrendingNow(trend_discovery_frequency="5 hours").fit(data)


def test_windows_end_at_now_and_ignore_later_events() -> None:
    items = np.array([0, 0, 1, 1, 1])
    times = np.array([100, 90, 89, 80, 101])  # 101 is after now
    counts = window_counts(items, times, now=100, window=10, n_windows=2, n_items=2)
    # window 0 = (90, 100], window 1 = (80, 90]
    np.testing.assert_array_equal(counts, [[1, 0], [1, 1]])


def test_forecast_ranks_a_steady_riser_above_a_one_window_spike() -> None:
    steady = np.arange(10, dtype=np.float32)  # oldest → newest
    spike = np.zeros(10, dtype=np.float32)
    spike[-1] = 9  # a jump in the latest window only: expected to fall back
    flat = np.full(10, 5, dtype=np.float32)
    counts = np.stack([steady, spike, flat], axis=1)[::-1]  # newest first
    scores = scores_from_counts(counts)
    assert scores[0] > scores[2] > scores[1]


def test_popularity_is_the_prior_of_a_thin_forecast() -> None:
    """A few events a day say little: between two forecasts that nearly tie, the film 200 users watched is the
    likelier riser than the one nobody watched (popularity_weight); without the prior the noise decides."""
    now = START + 400 * DAY
    rows = [(f"u{u}", "classic", START + u * 3600) for u in range(200)] + [("u0", "obscure", START)]
    for item, per_day in (("classic", (2, 1, 1, 1, 1)), ("obscure", (2, 2, 1, 1, 1))):  # newest day first
        rows += [(f"v{k}{n}", item, now - k * DAY - n) for k, count in enumerate(per_day) for n in range(count)]
    data = TrainingData.from_frames(pl.DataFrame(rows, schema=["USER_ID", "ITEM_ID", "TIMESTAMP"], orient="row"))
    with_prior = TrendingNow(trend_discovery_frequency="1 day").fit(data)
    without = TrendingNow(trend_discovery_frequency="1 day", popularity_weight=0.0).fit(data)
    assert with_prior.recommend([], num_results=2)[0].tolist() == ["classic", "obscure"]
    assert without.recommend([], num_results=2)[0].tolist() == ["obscure", "classic"]


def test_period_accuracy_is_the_share_of_the_best_increase() -> None:
    increase = np.array([5.0, 3.0, -2.0, 0.0])
    assert period_accuracy(np.array([0, 1]), increase, k=2) == 1.0
    assert period_accuracy(np.array([1, 2]), increase, k=2) == pytest.approx(1 / 8)
    assert period_accuracy(np.array([2, 3]), increase, k=2) == 0.0  # fallers never make it negative
    assert period_accuracy(np.array([0]), np.array([-1.0, 0.0])) is None  # no riser: the period is skipped


def planted_risers(days: int = 30, seed: int = 0) -> TrainingData:
    """80 items with steady Poisson rates (a few very popular) and 10 whose daily rate grows every day."""
    rng = np.random.default_rng(seed)
    steady = np.concatenate([np.full(5, 40.0), np.full(75, 4.0)])
    rows: list[tuple[str, str, int]] = []
    for day in range(days):
        rates = np.concatenate([steady, np.full(10, 1.5 * day)])
        counts = rng.poisson(rates)
        for item in np.flatnonzero(counts):
            for _ in range(counts[item]):
                rows.append((f"u{rng.integers(2000)}", f"i{item}", START + day * DAY + int(rng.integers(DAY))))
    frame = pl.DataFrame(rows, schema=["USER_ID", "ITEM_ID", "TIMESTAMP"], orient="row")
    return TrainingData.from_frames(frame)


def test_trending_beats_popularity_at_predicting_the_next_days_risers() -> None:
    data = planted_risers()
    trending = trend_prediction_accuracy(TrendingNow(trend_discovery_frequency="1 day"), data, window_seconds=DAY,
                                         periods=8)
    popular = trend_prediction_accuracy(PopularityCount(), data, window_seconds=DAY, periods=8)
    assert trending > popular + 0.2, (trending, popular)
    # Without the noise (expected counts), the forecast lists exactly the risers first.
    days = np.arange(30, dtype=np.float32)[:, None]
    expected = np.concatenate([np.full((30, 5), 40.0), np.full((30, 75), 4.0), np.repeat(1.5 * days, 10, 1)], 1)
    assert set(np.argsort(-scores_from_counts(expected[::-1]))[:10]) == set(range(80, 90))


def test_the_list_ignores_the_history() -> None:
    model = TrendingNow(trend_discovery_frequency="1 day").fit(planted_risers(days=10))
    np.testing.assert_array_equal(model.recommend([])[0], model.recommend(["i3", "i4"])[0])


def test_refresh_with_new_events_equals_training_on_all_of_them() -> None:
    data = planted_risers(days=12)
    cut = START + 10 * DAY
    early = data.select(data.timestamp <= cut)  # same catalogue, the last two days held back
    late = data.timestamp > cut
    # Without the popularity prior, which stays as trained until the next training (refresh sees no user ids)
    refreshed = TrendingNow(trend_discovery_frequency="1 day", lookback_windows=5, popularity_weight=0.0).fit(early)
    before = refreshed.trend_scores_.copy()
    new_ids = [*data.item_ids[data.item_idx[late]], "not-in-the-catalogue"]
    refreshed.refresh(new_ids, [*data.timestamp[late], cut + 1])
    full = TrendingNow(trend_discovery_frequency="1 day", lookback_windows=5, popularity_weight=0.0).fit(data)
    # Equal up to the 1e-4 popularity tie-break, which stays as trained until the next training.
    np.testing.assert_allclose(refreshed.trend_scores_, full.trend_scores_, rtol=1e-5, atol=2e-4)
    assert not np.allclose(before, full.trend_scores_)
    assert float(refreshed.latest_timestamp_) == float(data.timestamp.max())
    # Much later, with nothing new, every window is empty: no item is rising any more.
    refreshed.refresh(now=float(data.timestamp.max()) + 30 * DAY)
    assert np.allclose(refreshed.trend_scores_, 0.0, atol=2e-4) and len(refreshed.recent_items_) == 0
    with pytest.raises(ValueError, match="2 item ids but 1 timestamps"):
        refreshed.refresh(["i1", "i2"], [cut])


def test_refresh_before_fit_raises() -> None:
    with pytest.raises(NotFittedError):
        TrendingNow().refresh(["i1"], [START])


def test_save_load_keeps_the_refresh_state(tmp_path: Path) -> None:
    model = TrendingNow(trend_discovery_frequency="1h").fit(planted_risers(days=5))
    model.save(tmp_path / "m")
    loaded = Recipe.load(tmp_path / "m")
    assert isinstance(loaded, TrendingNow) and loaded.get_params() == model.get_params()
    at = float(model.latest_timestamp_) + 60
    for refreshed in (model, loaded):
        refreshed.refresh(["i2"] * 50, [at] * 50)
    np.testing.assert_array_equal(loaded.recommend([])[0], model.recommend([])[0])


# ---- through the API --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def interactions_group(personalize: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    data = generate_vod(users=300, items=200, interactions=6000, seed=5)
    return group_with(personalize, data, tmp_path_factory.mktemp("trend"), ("INTERACTIONS",))


def test_train_trending_now_through_the_api(personalize: Any, interactions_group: str) -> None:
    config = {"featureTransformationParameters": {"trend_discovery_frequency": "1d"}}  # the 2023 spelling
    version = train(personalize, interactions_group, "aws-trending-now", solutionConfig=config)
    metrics = metrics_of(personalize, version)
    assert set(metrics) == {*metric_keys(), "trend_prediction_accuracy"}
    assert 0.0 <= metrics["trend_prediction_accuracy"] <= 1.0
    solution = personalize.describe_solution(solutionArn=version["solutionArn"])["solution"]
    assert solution["solutionConfig"]["featureTransformationParameters"]["trend_discovery_frequency"] in ("1d", "1 day")


def test_the_latest_windows_with_risers_are_scored_even_after_a_quiet_spell() -> None:
    """A log's last days can be nearly empty (MovieLens): windows without a riser are skipped, not scored 0."""
    data = planted_risers(days=20)
    latest = float(data.timestamp.max())
    # ten more days with one event a day of the same item: nothing rises in the last windows
    stray = pl.DataFrame({"USER_ID": [f"late{k}" for k in range(10)], "ITEM_ID": [str(data.item_ids[0])] * 10,
                          "TIMESTAMP": [int(latest) + k * DAY for k in range(1, 11)]})
    frame = pl.concat([pl.DataFrame({"USER_ID": data.user_ids[data.user_idx], "ITEM_ID": data.item_ids[data.item_idx],
                                     "TIMESTAMP": data.timestamp.astype(np.int64)}), stray])
    quiet = TrainingData.from_frames(frame)
    accuracy = trend_prediction_accuracy(TrendingNow(trend_discovery_frequency="1 day"), quiet, window_seconds=DAY)
    assert accuracy > 0.3  # the planted risers of the busy days, as on the data without the quiet spell
