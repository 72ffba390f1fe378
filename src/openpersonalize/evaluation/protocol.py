"""Run a recipe through Personalize's protocol: fit on the training users, recommend for the held-out ones.

Tasks: ``"user"`` (USER_PERSONALIZATION / POPULAR_ITEMS: top 25 from the input history) and ``"related"``
(RELATED_ITEMS: top 25 items related to the user's most recent input item — our reading, since AWS does not
describe how related-item recipes are scored, spec §9.1 item 4).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..recipes.base import Histories, Recipe
from .metrics import MRR_CUTOFF, compute_metrics
from .split import Split

TASKS = ("user", "related")


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
    queries = split.inputs if task == "user" else _last_items(split.inputs)
    recommended = recipe.recommend_batch(queries, num_results=MRR_CUTOFF, exclude_history=exclude_history)
    finished = time.perf_counter()
    metrics = compute_metrics(recommended, split.targets, split.train.n_items)
    return Evaluation(metrics, trained - started, finished - trained)


def _last_items(inputs: Histories) -> Histories:
    last = inputs.offsets[1:] - 1
    types = None if inputs.event_types is None else inputs.event_types[last]
    return Histories(inputs.items[last], np.arange(len(last) + 1, dtype=np.int64), types)
