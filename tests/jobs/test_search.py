"""Which offline task a solution version is scored on (spec §9.1 item 4)."""

from __future__ import annotations

import pytest

from openpersonalize.jobs.search import task_of

PREFIX = "arn:aws:personalize:::recipe/"


@pytest.mark.parametrize(
    ("recipe", "task"),
    [
        ("aws-user-personalization", "user"),
        ("aws-user-personalization-v2", "user"),
        ("aws-personalized-ranking", "ranking"),  # re-ranks each user's relevant items among candidates
        ("aws-personalized-ranking-v2", "ranking"),
        ("aws-sims", "related"),
        ("aws-similar-items", "related"),
        ("aws-semantic-similarity", "related"),
        ("aws-popularity-count", "user"),
    ],
)
def test_task_of(recipe: str, task: str) -> None:
    assert task_of(PREFIX + recipe) == task
