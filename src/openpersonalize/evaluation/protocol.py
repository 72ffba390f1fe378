"""Run a recipe through Personalize's protocol: fit on the training users, recommend for the held-out ones.

Tasks: ``"user"`` (USER_PERSONALIZATION / POPULAR_ITEMS: top 25 from the input history), ``"related"``
(RELATED_ITEMS: top 25 items related to the user's most recent input item) and ``"ranking"``
(PERSONALIZED_RANKING: order the relevant items mixed with 100 random unseen items). AWS does not describe
how related-item and ranking recipes are scored (spec §9.1 item 4); these are our readings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..recipes.base import Histories, Recipe
from ..recipes.metrics import MRR_CUTOFF, compute_metrics
from .split import Split

TASKS = ("user", "related", "ranking")
RANKING_DISTRACTORS = 100


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, float]
    train_seconds: float
    recommend_seconds: float


def evaluate(recipe: Recipe, split: Split, *, task: str = "user", exclude_history: bool = False) -> Evaluation:
    """Fit ``recipe`` on ``split.train`` and score its top-25 lists for the held-out users."""
    if task not in TASKS:
        raise ValueError(f"The 'task' parameter must be one of {TASKS}. Got {task!r} instead.")
    started = time.perf_counter()
    recipe.fit(split.train)
    trained = time.perf_counter()
    queries = _last_items(split.inputs) if task == "related" else split.inputs
    candidates = _ranking_lists(split) if task == "ranking" else None
    # A related-items query is one item, which GetRecommendations never returns as related to itself
    exclude = exclude_history or task == "related"
    recommended = recipe.recommend_batch(queries, num_results=MRR_CUTOFF, exclude_history=exclude, candidates=candidates)
    finished = time.perf_counter()
    metrics = compute_metrics(recommended, split.targets, split.train.n_items)
    return Evaluation(metrics, trained - started, finished - trained)


def _last_items(inputs: Histories) -> Histories:
    last = inputs.offsets[1:] - 1
    types = None if inputs.event_types is None else inputs.event_types[last]
    return Histories(inputs.items[last], np.arange(len(last) + 1, dtype=np.int64), types)


def _ranking_lists(split: Split) -> Histories:
    """Per held-out user: the relevant items plus RANKING_DISTRACTORS random items outside their history."""
    rng = np.random.default_rng(len(split.test_users))  # fixed per split, identical for every recipe
    n_items = split.train.n_items
    rows = []
    for row in range(len(split.targets)):
        drawn = rng.choice(n_items, size=min(n_items, RANKING_DISTRACTORS * 2), replace=False)
        drawn = drawn[~np.isin(drawn, split.inputs.row(row)) & ~np.isin(drawn, split.targets.row(row))]
        rows.append(np.concatenate([split.targets.row(row), drawn[:RANKING_DISTRACTORS]]))
    return Histories.from_lists(rows)
