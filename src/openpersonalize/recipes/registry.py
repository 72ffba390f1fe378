"""The one table from a Personalize recipe ARN to the model class that trains it (STYLE habit 12).

A recipe with no entry here has no implementation yet: CreateSolution refuses it with a clear message
rather than training something else under its name. Classes are named, not imported, so that the API
process does not load torch until a model is actually trained or served.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from .base import Recipe

_PREFIX = "arn:aws:personalize:::recipe/"

RECIPES: dict[str, str] = {
    _PREFIX + "aws-user-personalization": "user_personalization:UserPersonalization",
    _PREFIX + "aws-user-personalization-v2": "user_personalization:UserPersonalization",
    # Ranking re-orders a caller's list with the same sequence model (spec §5.4: softmax over the list).
    _PREFIX + "aws-personalized-ranking": "user_personalization:UserPersonalization",
    _PREFIX + "aws-personalized-ranking-v2": "user_personalization:UserPersonalization",
    _PREFIX + "aws-sims": "sims:SIMS",
    _PREFIX + "aws-popularity-count": "popularity:PopularityCount",
    _PREFIX + "aws-trending-now": "trending:TrendingNow",
    _PREFIX + "aws-similar-items": "similar_items:SimilarItems",
    _PREFIX + "aws-semantic-similarity": "semantic:SemanticSimilarity",
    _PREFIX + "aws-item-affinity": "affinity:ItemAffinity",
    _PREFIX + "aws-item-attribute-affinity": "affinity:ItemAttributeAffinity",
    _PREFIX + "aws-next-best-action": "next_best_action:NextBestAction",
}


def is_implemented(recipe_arn: str) -> bool:
    return recipe_arn in RECIPES


def recipe_class(recipe_arn: str) -> type[Recipe]:
    module, _, name = RECIPES[recipe_arn].partition(":")
    cls: type[Recipe] = getattr(importlib.import_module(f"{__package__}.{module}"), name)
    return cls


def make_recipe(recipe_arn: str, hyperparameters: dict[str, Any], *, seed: int = 0) -> Recipe:
    """The model for ``recipe_arn`` with the Personalize hyperparameters its constructor understands.

    Personalize's names that have no meaning for our model (e.g. HRNN's ``bptt``) are validated by the
    catalogue but not passed on.
    """
    cls = recipe_class(recipe_arn)
    accepted = set(inspect.signature(cls.__init__).parameters)
    kwargs = {k: v for k, v in hyperparameters.items() if k in accepted}
    if "random_seed" in accepted:
        kwargs.setdefault("random_seed", seed)
    return cls(**kwargs)
