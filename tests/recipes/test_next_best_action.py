"""Next-Best-Action: labels from the optimisation period, scoring threshold, VALUE ties, expiry and repeat
rules, quality on planted propensities, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from openpersonalize.demo.actions import generate_actions
from openpersonalize.demo.generator import generate_vod
from openpersonalize.evaluation.actions import evaluate_actions
from openpersonalize.recipes._actions import ActionTrainingData
from openpersonalize.recipes.base import Histories, InvalidParameterError, NotFittedError, Recipe, TrainingData
from openpersonalize.recipes.next_best_action import DAY, NextBestAction, episodes

NOW = 1_700_000_000


@pytest.fixture(scope="module")
def planted() -> ActionTrainingData:
    vod = generate_vod(users=600, items=250, interactions=12_000, seed=3)
    actions = generate_actions(vod, seed=1)
    return ActionTrainingData.attach(TrainingData.from_frames(vod.interactions), actions.actions,
                                     actions.action_interactions)


class TakeRate:
    """The popularity baseline: every user gets each action's overall take rate."""

    def fit(self, data: ActionTrainingData) -> TakeRate:
        assert data.action_events is not None and data.actions is not None
        events, n = data.action_events, len(data.actions.action_ids)
        taken = np.bincount(events.action_idx[events.taken], minlength=n)
        self.rate = (taken + 1) / (np.bincount(events.action_idx, minlength=n) + 2)
        return self

    def action_scores(self, histories: Histories) -> np.ndarray:
        return np.tile(self.rate, (len(histories), 1))


def test_beats_the_take_rate_baseline_on_planted_propensities(planted: ActionTrainingData) -> None:
    ours = evaluate_actions(NextBestAction(), planted, seed=0).metrics
    baseline = evaluate_actions(TakeRate(), planted, seed=0).metrics
    assert ours["auc"] > 0.7 and ours["auc"] > baseline["auc"] + 0.15
    assert ours["recall"] > 2 * baseline["recall"] and ours["precision"] > 2 * baseline["precision"]
    assert ours["coverage"] == 1.0


def _data(events: list[tuple[str, str, str, int]], actions: pl.DataFrame | None = None) -> ActionTrainingData:
    users = sorted({e[0] for e in events} | {"u0", "u1"})
    interactions = pl.DataFrame({"USER_ID": [u for u in users for _ in range(2)],
                                 "ITEM_ID": [f"i{k % 3}" for k in range(2 * len(users))],
                                 "TIMESTAMP": list(range(2 * len(users)))})
    if actions is None:
        actions = pl.DataFrame({"ACTION_ID": ["a", "b", "c"], "VALUE": [3, 7, None]})
    frame = pl.DataFrame(events, schema=["USER_ID", "ACTION_ID", "EVENT_TYPE", "TIMESTAMP"], orient="row")
    return ActionTrainingData.attach(TrainingData.from_frames(interactions), actions, frame)


def test_labels_follow_the_optimization_period() -> None:
    data = _data([
        ("u0", "a", "VIEWED", NOW), ("u0", "a", "Taken", NOW + 5 * DAY),  # converted within 7 days
        ("u1", "a", "Viewed", NOW), ("u1", "a", "TAKEN", NOW + 10 * DAY),  # too late for 7, in time for 14
        ("u1", "b", "TAKEN", NOW),  # unprompted take: positive on its own
        ("u0", "b", "not taken", NOW),  # declined, never taken
        ("u0", "c", "clicked", NOW),  # unknown event type: ignored
        ("u0", "zz", "TAKEN", NOW),  # unknown action: ignored
    ])
    assert data.action_events is not None and len(data.action_events) == 6
    week = {(int(u), int(a), float(y)) for u, a, y in zip(*episodes(data.action_events, 7 * DAY), strict=True)}
    assert week == {(0, 0, 1.0), (1, 0, 0.0), (1, 1, 1.0), (1, 0, 1.0), (0, 1, 0.0)}
    fortnight = {(int(u), int(a), float(y)) for u, a, y in zip(*episodes(data.action_events, 14 * DAY), strict=True)}
    assert fortnight == {(0, 0, 1.0), (1, 0, 1.0), (1, 1, 1.0), (0, 1, 0.0)}  # u1's take now follows its view


def test_without_action_interactions_scores_are_zero_and_value_orders() -> None:
    model = NextBestAction().fit(_data([]))
    ids, scores = model.recommend_actions(["i0"], now=NOW)
    assert ids.tolist() == ["b", "a", "c"] and scores.tolist() == [0.0, 0.0, 0.0]  # VALUE 7, 3, null


def test_scored_actions_need_enough_recent_labels() -> None:
    events = [(f"x{k}", "a", "TAKEN" if k % 2 else "NOT_TAKEN", NOW + k) for k in range(8)]
    events += [(f"x{k}", "b", "TAKEN", NOW + k) for k in range(8)]  # only positives: not scored
    events += [("x0", "c", "TAKEN", NOW - 60 * DAY), ("x1", "c", "NOT_TAKEN", NOW - 60 * DAY)]  # too old
    model = NextBestAction(min_action_interactions=4).fit(_data(events))
    assert model.action_scored_.tolist() == [True, False, False]
    ids, scores = model.recommend_actions(["i1"], now=NOW)
    assert ids[0] == "a" and 0.0 < scores[0] < 1.0 and scores[1:].tolist() == [0.0, 0.0]


def test_expired_and_repeat_window_actions_are_excluded() -> None:
    actions = pl.DataFrame({"ACTION_ID": ["a", "b", "c"], "VALUE": [1, 2, 3],
                            "ACTION_EXPIRATION_TIMESTAMP": [None, None, NOW + 10],
                            "REPEAT_FREQUENCY": [None, 7, None]})
    model = NextBestAction().fit(_data([("u0", "b", "TAKEN", NOW - 2 * DAY)], actions))
    assert model.recommend_actions([], user_id="u0", now=NOW)[0].tolist() == ["c", "a"]  # b taken 2 days ago
    assert model.recommend_actions([], user_id="u1", now=NOW)[0].tolist() == ["c", "b", "a"]
    assert model.recommend_actions([], user_id="u0", now=NOW + 4 * DAY)[0].tolist() == ["a"]  # c expired
    later = NOW + 8 * DAY
    assert model.recommend_actions([], user_id="u0", now=later)[0].tolist() == ["b", "a"]  # window over
    fresh = model.recommend_actions([], user_id="u1", now=later, action_history_ids=["b"],
                                    action_history_event_types=["Taken"], action_history_timestamps=[later - DAY])
    assert fresh[0].tolist() == ["a"]  # a PutActionInteractions TAKEN opens the window too
    assert model.recommend_actions([], now=NOW, exclude_action_ids=["c"], num_results=1)[0].tolist() == ["b"]


def test_save_load_round_trip(planted: ActionTrainingData, tmp_path: Path) -> None:
    model = NextBestAction().fit(planted)
    model.save(tmp_path / "nba")
    loaded = Recipe.load(tmp_path / "nba")
    assert isinstance(loaded, NextBestAction)
    history = [str(i) for i in planted.item_ids[:5]]
    assert loaded.recommend_actions(history, now=NOW)[0].tolist() == model.recommend_actions(history, now=NOW)[0].tolist()
    assert np.allclose(loaded.recommend_actions(history, now=NOW)[1], model.recommend_actions(history, now=NOW)[1])
    items, _ = loaded.recommend(history, num_results=5)  # the contract's item query still works (PureSVD)
    assert len(items) == 5


def test_unfitted_bad_parameters_and_missing_actions(planted: ActionTrainingData) -> None:
    with pytest.raises(NotFittedError):
        NextBestAction().recommend_actions([])
    with pytest.raises(InvalidParameterError, match="'action_optimization_period' parameter"):
        NextBestAction(action_optimization_period=0).fit(planted)
    plain = TrainingData.from_frames(pl.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["i"], "TIMESTAMP": [1]}))
    with pytest.raises(ValueError, match="needs an Actions dataset"):
        NextBestAction().fit(plain)
