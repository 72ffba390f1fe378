"""Served equals evaluated (issue 16): for the same model and histories, GetRecommendations at exploration 0
answers exactly the lists the offline evaluation scores.

The held-out users' histories reach the server the way clients send them: PutEvents batches of up to 10, a
`click` and its `watch` sharing a timestamp, timestamps years old, some histories longer than a model reads
(``HISTORY_LIMIT``). ``bench/_through_api.py`` does the streaming and the comparison; ``bench/quality.py
--through-api`` runs the same on real data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _through_api
import numpy as np
import polars as pl
import pytest

from openpersonalize.evaluation.split import split_users
from openpersonalize.recipes.base import HISTORY_LIMIT, TrainingData
from openpersonalize.serving.realtime import MAX_EVENTS_PER_USER


def _clicks_and_watches(n_users: int = 120, n_items: int = 150, seed: int = 0) -> TrainingData:
    """Sessions of clicks on neighbouring items, half of them followed by a watch in the same second; one
    user in ten has a history longer than HISTORY_LIMIT."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        length = HISTORY_LIMIT if user % 10 == 0 else int(rng.integers(15, 60))  # clicks; watches come on top
        taste = int(rng.integers(n_items))
        when = 1_400_000_000 + int(rng.integers(0, 86_400 * 30))
        for _ in range(length):
            item = (taste + int(rng.integers(-8, 9))) % n_items if rng.random() < 0.8 else int(rng.integers(n_items))
            when += int(rng.choice([0, 60, 3600]))  # several clicks in one second too
            rows.append((f"u{user}", f"i{item}", when, "click"))
            if rng.random() < 0.5:
                rows.append((f"u{user}", f"i{item}", when, "watch"))
    frame = pl.DataFrame(rows, schema=["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"], orient="row")
    return TrainingData.from_frames(frame)


def test_serving_keeps_every_event_a_model_reads() -> None:
    assert MAX_EVENTS_PER_USER >= HISTORY_LIMIT


@pytest.mark.parametrize("seed", [0])
def test_get_recommendations_answers_what_the_evaluation_scores(server: Any, tmp_path_factory: pytest.TempPathFactory, seed: int) -> None:
    split = split_users(_clicks_and_watches(seed=seed), seed=seed, test_fraction=0.15)
    assert split.inputs.lengths().max() > HISTORY_LIMIT  # a held-out history longer than a model reads
    folder: Path = tmp_path_factory.mktemp("served")
    outcome = _through_api.run(split, server.port, folder, server.data_dir, f"served-{seed}", exploring=False)
    assert outcome.identical == 1.0
    assert outcome.served == outcome.served_model
