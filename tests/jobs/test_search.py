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


def test_hpo_starts_from_the_models_defaults_where_the_ranges_hold_them() -> None:
    from openpersonalize.jobs.search import _defaults_within
    from openpersonalize.recipes import catalogue

    ranges = catalogue.hpo_ranges(PREFIX + "aws-user-personalization")
    accepted = {"bptt", "recency_mask", "hidden_dimension"}
    defaults = {"bptt": 20, "recency_mask": True, "l2": 300.0}  # hidden_dimension: not a parameter of our model
    assert _defaults_within(ranges, defaults, accepted) == {"bptt": 20, "recency_mask": "true"}
    assert _defaults_within(ranges, {"bptt": 64, "recency_mask": True}, accepted) == {"recency_mask": "true"}  # out of range
