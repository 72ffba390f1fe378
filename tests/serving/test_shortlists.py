"""serving/shortlists.py: a first visit read off the precomputed list answers exactly what scoring answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from openpersonalize import ranking
from openpersonalize.data.eventlog import EventLog
from openpersonalize.demo.generator import generate_vod
from openpersonalize.recipes._data import TrainingData
from openpersonalize.recipes.base import Histories
from openpersonalize.recipes.sequential import TAIL_CANDIDATES
from openpersonalize.recipes.user_personalization import UserPersonalization
from openpersonalize.serving import recommend
from openpersonalize.serving.models import Catalog, ServedModel
from openpersonalize.serving.realtime import EventFeed, GroupHistory
from openpersonalize.serving.shortlists import SHORTLIST_LENGTH, Shortlists

DATASET = "arn:aws:personalize:us-east-1:123456789012:dataset/g/INTERACTIONS"


@pytest.fixture(scope="module")
def trained() -> tuple[Any, UserPersonalization]:
    data = generate_vod(users=300, items=1200, interactions=15_000, seed=3)
    # a small vocabulary cap: the tail's best items are scored per user, the rest of the tail the row's floor
    recipe = UserPersonalization(max_vocabulary=250).fit(TrainingData.from_frames(data.interactions))
    assert len(recipe.tail_items_) > TAIL_CANDIDATES
    return data, recipe


def _model(trained: tuple[Any, UserPersonalization], budget: int, new_items: int = 0, log: EventLog | None = None
           ) -> ServedModel:
    data, recipe = trained
    history = GroupHistory(data.interactions, None if log is None else EventFeed(log, DATASET, log.head()))
    ids = np.concatenate([recipe.item_ids_, np.array([f"new{i}" for i in range(new_items)], dtype=str)])
    counts = np.concatenate([recipe.item_counts_, np.zeros(new_items, np.int64)])
    catalog = Catalog(ids, len(recipe.item_ids_), counts, np.full(len(ids), np.nan), None, {})
    model = ServedModel("arn:v", "arn:r", "USER_PERSONALIZATION", "arn:g", recipe, catalog, history,
                        shortlists=Shortlists(budget))
    model.shortlists.build(recipe, history)
    return model


def _answer(model: ServedModel, user: str, **query: Any) -> list[dict[str, Any]]:
    return recommend.recommend(model, recommend.Query(user, **query), model.history.get(user))


def _odd_items(catalog: Catalog) -> np.ndarray:
    return np.arange(len(catalog.item_ids)) % 2 == 1


def test_a_batch_row_scores_what_a_single_user_scores(trained: tuple[Any, UserPersonalization]) -> None:
    data, recipe = trained
    history = GroupHistory(data.interactions)
    users = history.known_users()[:40]
    rows = [recipe.history_row(e.item_ids, e.event_types, e.timestamps) for e in map(history.get, users)]
    batch = recipe.final_scores(Histories.from_lists([r.items for r in rows], [r.event_types for r in rows],
                                                     [r.timestamps for r in rows]))
    for row, single in zip(batch, rows, strict=True):
        assert np.array_equal(row, recipe.final_scores(single)[0])


@pytest.mark.parametrize("new_items", [0, 7])  # a catalogue grown since training pads the rows with -inf
def test_shortlisted_answers_equal_scored_answers(trained: tuple[Any, UserPersonalization], new_items: int) -> None:
    listed, scored = _model(trained, 1 << 30, new_items), _model(trained, 0, new_items)
    users = listed.history.known_users()
    assert len(listed.shortlists) == len(users) and len(scored.shortlists) == 0
    for user in users[::5]:
        for query in ({"num_results": 25}, {"num_results": 40, "mask": _odd_items},
                      {"num_results": 10, "with_reasons": True}, {"num_results": 5, "with_scores": False}):
            assert _answer(listed, user, **query) == _answer(scored, user, **query)
    assert scored.scores.stats().entries > 0
    assert listed.scores.stats().entries == 0  # no user needed their scores computed


def test_a_filter_that_leaves_too_few_listed_items_scores_the_user(trained: tuple[Any, UserPersonalization]) -> None:
    listed, scored = _model(trained, 1 << 30), _model(trained, 0)
    user = listed.history.known_users()[0]
    best = set(listed.shortlists.get(user).items.tolist())  # type: ignore[union-attr]
    outside = lambda catalog: ~np.isin(np.arange(len(catalog.item_ids)), list(best))  # noqa: E731
    assert _answer(listed, user, num_results=10, mask=outside) == _answer(scored, user, num_results=10, mask=outside)
    assert listed.scores.stats().entries == 1


def test_a_streamed_event_or_exploration_is_scored_afresh(trained: tuple[Any, UserPersonalization], tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    listed, scored = _model(trained, 1 << 30, log=log), _model(trained, 0, log=log)
    user = listed.history.known_users()[1]
    _answer(listed, user, num_results=10, exploration_weight=0.5)  # draws need every pool item's score
    assert listed.scores.stats().entries == 1
    event = {"USER_ID": user, "ITEM_ID": str(listed.catalog.item_ids[-1]), "EVENT_TYPE": "click", "TIMESTAMP": 2e9}
    log.append(DATASET, [event])  # PutEvents
    for model in (listed, scored):
        model.history.sync()
    assert _answer(listed, user, num_results=10) == _answer(scored, user, num_results=10)
    assert listed.scores.stats().entries == 2  # the new history was scored, not read off the list


def test_the_budget_holds_the_most_active_users_first(trained: tuple[Any, UserPersonalization]) -> None:
    per_user = SHORTLIST_LENGTH * 8 + 160
    listed = _model(trained, 10 * per_user)
    users = listed.history.known_users()
    assert len(listed.shortlists) == 10
    assert all(listed.shortlists.get(u) is not None for u in users[:10])
    assert listed.shortlists.get(users[-1]) is None
    assert listed.shortlists.done.is_set()


def test_normalisers_do_not_depend_on_padding() -> None:
    rng = np.random.default_rng(0)
    row = rng.normal(size=(1, 1001)).astype(np.float32)
    padded = np.concatenate([row, np.full((1, 333), -np.inf, np.float32)], axis=1)
    assert ranking.softmax_normaliser(row)[1][0] == ranking.softmax_normaliser(padded)[1][0]
    block = np.concatenate([padded, padded[:, ::-1], np.full((1, 1334), -np.inf, np.float32)])  # one mask per row
    same = np.concatenate([padded, padded * 0.5])  # one mask for the block
    for rows in (block, same):
        assert ranking.softmax_normaliser(rows)[1].tolist() == [ranking.softmax_normaliser(r[None, :])[1][0] for r in rows]
