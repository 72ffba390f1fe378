"""OPENPERSONALIZE_TRAINING_MEMORY (issue 15): a training job whose estimated peak is above the budget fails before
fitting, with the estimate and the budget in its failureReason."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import LiveServer
from test_datasets import active_dataset, active_group, new_schema
from test_training import UP, _import, _solution, _train

from openpersonalize.config import Settings
from openpersonalize.demo.generator import generate_vod, write_csv
from openpersonalize.recipes.base import TrainingData
from openpersonalize.recipes.sequential import MATRICES_HELD
from openpersonalize.recipes.user_personalization import UserPersonalization


@pytest.mark.parametrize(("text", "count"), [("12G", 12 << 30), ("512M", 512 << 20), ("1.5K", 1536), ("4GiB", 4 << 30),
                                             ("1000", 1000), ("", None)])
def test_the_budget_reads_binary_sizes(monkeypatch: pytest.MonkeyPatch, text: str, count: int | None) -> None:
    monkeypatch.setenv("OPENPERSONALIZE_TRAINING_MEMORY", text)
    assert Settings().training_memory == count


@pytest.mark.parametrize("text", ["lots", "0", "-2G"])
def test_a_bad_budget_is_refused(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("OPENPERSONALIZE_TRAINING_MEMORY", text)
    with pytest.raises(ValueError, match="OPENPERSONALIZE_TRAINING_MEMORY"):
        Settings()


def test_the_estimate_grows_with_the_modelled_items_squared() -> None:
    data = TrainingData.from_frames(generate_vod(users=300, items=200, interactions=6000, seed=3).interactions)
    small, large = UserPersonalization(max_vocabulary=50), UserPersonalization(max_vocabulary=150)
    assert large.fit_memory(data) - small.fit_memory(data) == MATRICES_HELD * 4 * (150**2 - 50**2)


def test_a_training_above_the_budget_fails_early_with_the_estimate(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "small", env={"OPENPERSONALIZE_TRAINING_MEMORY": "200M"})
    server.start()
    try:
        client = server.client("personalize")
        data = generate_vod(users=300, items=200, interactions=6000, seed=3)
        files = write_csv(data, tmp_path / "data")
        group, _ = active_group(client)
        dataset = active_dataset(client, group, "Interactions", new_schema(client, data.schemas["INTERACTIONS"]))
        _import(client, dataset, files["interactions"])
        version = _train(client, _solution(client, group, UP))
        assert version["status"] == "CREATE FAILED"
        reason = version["failureReason"]
        assert "UserPersonalization on 6,000 interactions" in reason and "needs an estimated" in reason
        assert "above the training memory budget of 200 MiB (OPENPERSONALIZE_TRAINING_MEMORY)" in reason
    finally:
        server.stop()
