"""Every recipe record, gathered from the modules that declare them (STYLE habit 12: one table ARN → class).

Each record is declared beside the model class that trains it; this module only collects them, in the
order ListRecipes shows custom recipes, and makes models from them. A record without a model class (the
legacy HRNN_RECORD recipes) is listed and described but refused by CreateSolution.
"""

from __future__ import annotations

import inspect
from typing import Any

from ._records import RecipeRecord
from .affinity import ITEM_AFFINITY_RECORD, ITEM_ATTRIBUTE_AFFINITY_RECORD
from .base import Recipe
from .legacy import RECORDS as LEGACY_RECORDS
from .next_best_action import NEXT_BEST_ACTION_RECORD
from .popularity import POPULARITY_COUNT_RECORD
from .semantic import SEMANTIC_SIMILARITY_RECORD
from .similar_items import SIMILAR_ITEMS_RECORD
from .sims import SIMS_RECORD
from .trending import TRENDING_NOW_RECORD
from .use_cases import RECORDS as USE_CASE_RECORDS
from .user_personalization import (
    PERSONALIZED_RANKING_RECORD,
    PERSONALIZED_RANKING_V2_RECORD,
    USER_PERSONALIZATION_RECORD,
    USER_PERSONALIZATION_V2_RECORD,
)

CUSTOM: tuple[RecipeRecord, ...] = (
    USER_PERSONALIZATION_V2_RECORD, USER_PERSONALIZATION_RECORD, TRENDING_NOW_RECORD, POPULARITY_COUNT_RECORD,
    PERSONALIZED_RANKING_V2_RECORD, PERSONALIZED_RANKING_RECORD, SEMANTIC_SIMILARITY_RECORD, SIMILAR_ITEMS_RECORD,
    SIMS_RECORD, NEXT_BEST_ACTION_RECORD, ITEM_AFFINITY_RECORD, ITEM_ATTRIBUTE_AFFINITY_RECORD, *LEGACY_RECORDS,
)
RECORDS: dict[str, RecipeRecord] = {r.arn: r for r in (*CUSTOM, *USE_CASE_RECORDS)}


def is_implemented(recipe_arn: str) -> bool:
    return recipe_arn in RECORDS and RECORDS[recipe_arn].model is not None


def recipe_class(recipe_arn: str) -> type[Recipe]:
    """The model class of a recipe that can be trained (``is_implemented``)."""
    model = RECORDS[recipe_arn].serving_recipe.model
    if model is None:
        raise LookupError(f"Recipe {recipe_arn} has no model in this release.")
    return model


def make_recipe(recipe_arn: str, hyperparameters: dict[str, Any], *, seed: int = 0) -> Recipe:
    """The model for ``recipe_arn`` with the Personalize hyperparameters its constructor understands.

    Personalize's names that have no meaning for our model (e.g. User-Personalization's ``hidden_dimension``)
    are validated by the catalogue but not passed on.
    """
    cls = recipe_class(recipe_arn)
    accepted = set(inspect.signature(cls.__init__).parameters)
    kwargs = {k: v for k, v in hyperparameters.items() if k in accepted}
    if "random_seed" in accepted:
        kwargs.setdefault("random_seed", seed)
    return cls(**kwargs)
