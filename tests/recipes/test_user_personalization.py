"""The repeat component: users who `click` then `watch` the same item get it back (spec §9.1 protocol)."""

from __future__ import annotations

import numpy as np
import polars as pl

from baselines.buy_again import BuyAgain

from openpersonalize.evaluation.protocol import evaluate
from openpersonalize.evaluation.split import split_users
from openpersonalize.recipes import _repeat
from openpersonalize.recipes.base import Histories, Recipe, TrainingData
from openpersonalize.recipes.sequential import SequentialLinear
from openpersonalize.recipes.user_personalization import UserPersonalization


def _clicks_then_watches(n_users: int = 200, seed: int = 0) -> TrainingData:
    """Every user clicks 10 random items in one second, then watches half of them in the same second."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        for session in range(3):
            clicked = rng.choice(150, size=10, replace=False)
            when = 1_600_000_000 + 86_400 * session + user
            rows += [(f"u{user}", f"i{i}", when, "click") for i in clicked]
            rows += [(f"u{user}", f"i{i}", when, "watch") for i in clicked[:5]]
    frame = pl.DataFrame(rows, schema=["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"], orient="row")
    return TrainingData.from_frames(frame)


def test_repeat_component_recovers_pending_watches() -> None:
    split = split_users(_clicks_then_watches(), seed=0)
    key = "normalized_discounted_cumulative_gain_at_10"
    with_repeats = evaluate(UserPersonalization(l2=10.0), split).metrics[key]
    without = evaluate(UserPersonalization(l2=10.0, repeat_weight=0.0), split).metrics[key]
    assert with_repeats > without + 0.2, (with_repeats, without)


def test_timestamps_change_the_answer_for_a_live_user() -> None:
    model = UserPersonalization(l2=10.0).fit(_clicks_then_watches())
    # a live user like the training users: two earlier sessions (10 clicks, then watches of the first 5), then 4
    # clicks; a history far outside the fitted ones (4 events in all) would test only how the regression extrapolates
    earlier = [f"i{i}" for i in (*range(100, 110), *range(100, 105), *range(110, 120), *range(110, 115))]
    history = [*earlier, "i1", "i2", "i3", "i4"]
    kinds = (["click"] * 10 + ["watch"] * 5) * 2 + ["click"] * 4
    candidates = ["i1", "i2", "i3", "i4", "i52", "i60"]
    now = model.rank(history, candidates, history_event_types=kinds,
                     history_timestamps=[0] * 15 + [86_400] * 15 + [172_800] * 4)
    stale = model.rank(history, candidates, history_event_types=kinds, history_timestamps=[0] * 33 + [9e6])
    # Clicked in this very second, the watch usually follows; clicked months before the latest event, it
    # did not — the repeat probability drops, while the time-blind transition part stays the same.
    assert set(now[0][:4]) == {"i1", "i2", "i3", "i4"}
    fresh, old = (dict(zip(*answer, strict=True)) for answer in (now, stale))
    assert sum(fresh[item] for item in ("i1", "i2", "i3")) > 1.3 * sum(old[item] for item in ("i1", "i2", "i3"))


def test_large_catalogues_keep_the_most_popular_items_in_the_matrices() -> None:
    """The V×V matrices grow with the square of the vocabulary; past max_vocabulary the tail is left out."""
    data = _clicks_then_watches()
    counts = data.item_counts()
    full = UserPersonalization(repeat_weight=0.0, min_item_count=1).fit(data)
    capped = UserPersonalization(repeat_weight=0.0, min_item_count=1, max_vocabulary=5).fit(data)
    assert len(capped.vocabulary_) == 5 < len(full.vocabulary_)
    assert capped.transition_.shape == (5, 5)
    assert set(capped.vocabulary_.tolist()) == set(np.argsort(-counts, kind="stable")[:5].tolist())
    ids, _ = capped.recommend([str(data.item_ids[0])], num_results=3)
    assert len(ids) == 3  # still answers


def test_the_linear_parts_read_each_users_distinct_items_at_their_newest_occurrence() -> None:
    """Coming back to an item is the repeat model's job: a `watch` right after each `click` of the same item
    leaves the transition and EASE matrices as they were, and a live history with repeats scores as its
    distinct items in the order of their newest occurrences."""
    rng = np.random.default_rng(0)
    clicks = [(f"u{u}", f"i{i}", 1_600_000_000 + 60 * n, "click") for u in range(100)
              for n, i in enumerate(rng.choice(60, size=12, replace=False))]
    doubled = [row for u, i, t, _ in clicks for row in ((u, i, t, "click"), (u, i, t, "watch"))]
    schema = ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"]
    fit = {
        name: SequentialLinear(l2=10.0, neighbour_weight=0.0).fit(
            TrainingData.from_frames(pl.DataFrame(rows, schema=schema, orient="row"))
        )
        for name, rows in (("once", clicks), ("doubled", doubled))
    }
    np.testing.assert_allclose(fit["doubled"].transition_, fit["once"].transition_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fit["doubled"].ease_, fit["once"].ease_, rtol=1e-5, atol=1e-6)

    repeated = Histories.from_lists([np.array([3, 7, 3, 9, 7, 7])])
    distinct = Histories.from_lists([np.array([3, 9, 7])])
    np.testing.assert_allclose(fit["doubled"]._score(repeated), fit["doubled"]._score(distinct))


def _weekly_baskets(n_users: int = 150, n_items: int = 300, seed: int = 0) -> TrainingData:
    """Grocery-like: weekly baskets of a user's staples, each bought with its own probability, plus a few
    popular items. Tastes change: a staple of the first weeks may be dropped, a new one adopted later, so what
    was bought most often is not always what comes next (the case "buy again" gets wrong)."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1)
    popularity /= popularity.sum()
    rows = []
    for user in range(n_users):
        weeks = int(rng.integers(12, 30))
        staples = rng.choice(n_items, size=10, replace=False)
        chance = rng.uniform(0.3, 0.9, size=10)
        switch = rng.integers(weeks // 3, weeks, size=10)  # staples 0-2 stop here, 3-5 start here
        for week in range(weeks):
            active = np.ones(10, dtype=bool)
            active[:3] = week < switch[:3]
            active[3:6] = week >= switch[3:6]
            bought = staples[active & (rng.random(10) < chance)]
            extra = rng.choice(n_items, size=2, p=popularity)
            when = 1_600_000_000 + week * 7 * 86_400 + user
            rows += [(f"u{user}", f"i{item}", when, "purchase") for item in dict.fromkeys([*bought, *extra])]
    frame = pl.DataFrame(rows, schema=["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"], orient="row")
    return TrainingData.from_frames(frame)


def test_repeat_purchases_beat_buy_again() -> None:
    """Where people buy the same things again, the model knows what they buy again better than the rule: 1.12×
    here, 1.099× before the decayed basket frequencies and the leave-one-out item propensity."""
    split = split_users(_weekly_baskets(), seed=0, test_fraction=0.3)
    key = "normalized_discounted_cumulative_gain_at_10"
    model = evaluate(UserPersonalization(), split).metrics[key]
    rule = evaluate(BuyAgain(), split).metrics[key]
    assert model > 1.10 * rule, (model, rule)


def test_a_model_saved_by_an_earlier_release_scores_with_its_repeat_table(tmp_path) -> None:
    """An earlier release saved a regression over other features (3 × 16): the model still answers, its repeat
    probabilities read off the table, instead of failing every request until it is retrained."""
    model = UserPersonalization(l2=10.0).fit(_clicks_then_watches(n_users=60))
    history = [str(i) for i in model.item_ids_[:6]]
    model.repeat_regression_ = np.zeros((3, 16), np.float32)
    model.save(tmp_path / "old")
    old = Recipe.load(tmp_path / "old")
    ids, _ = old.recommend(history, num_results=5)
    table_only = UserPersonalization(l2=10.0).fit(_clicks_then_watches(n_users=60))
    table_only.repeat_regression_ = _repeat.table_only()
    assert list(ids) == list(table_only.recommend(history, num_results=5)[0])


def test_an_event_sent_with_an_older_timestamp_keeps_every_score_finite() -> None:
    """A client may send an event dated before the ones it already sent: the history's clock runs backwards once."""
    model = UserPersonalization(l2=10.0).fit(_clicks_then_watches(n_users=60))
    items = [str(i) for i in model.item_ids_[:5]]
    scores = model.score_history(items, history_event_types=["click"] * 5,
                                 history_timestamps=[1_600_000_000.0, 1_600_000_000, 1_600_086_400, 1_600_172_800, 1_500_000_000])
    assert not np.isnan(scores).any()  # -inf marks items the model cannot score; NaN would be a broken answer
