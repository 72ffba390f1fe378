"""Catalogue: ListRecipes, DescribeRecipe, DescribeAlgorithm, DescribeFeatureTransformation (spec §2.12).

Read-only views of the recipe records (``recipes/catalogue.py``); nothing is stored per account.
"""

from __future__ import annotations

from typing import Any

from ..recipes import catalogue
from .common import ACTIVE, paginate
from .context import RequestContext
from ..data.metadata import Record

_SUMMARY_KIND = "recipe"


def _recipe_body(recipe: catalogue.RecipeRecord) -> dict[str, Any]:
    ft = recipe.feature_transformation
    return {
        "name": recipe.name,
        "recipeArn": recipe.arn,
        "algorithmArn": recipe.algorithm.arn,
        "featureTransformationArn": ft.arn if ft else None,
        "status": ACTIVE,
        "description": recipe.description,
        "recipeType": recipe.recipe_type,
        "creationDateTime": recipe.created,
        "lastUpdatedDateTime": recipe.created,
    }


def _summary_record(recipe: catalogue.RecipeRecord) -> Record:
    """A RecipeSummary wrapped as a Record, so ListRecipes pages like every other List* (common.paginate)."""
    body = {"name": recipe.name, "recipeArn": recipe.arn, "status": ACTIVE, "creationDateTime": recipe.created,
            "lastUpdatedDateTime": recipe.created, "domain": recipe.domain}
    return Record(arn=recipe.arn, kind=_SUMMARY_KIND, name=recipe.name, parent=None, status=ACTIVE,
                  created=recipe.created, body=body)


def _algorithm_body(algorithm: catalogue.Algorithm) -> dict[str, Any]:
    return {
        "name": algorithm.name,
        "algorithmArn": algorithm.arn,
        "algorithmImage": {"name": algorithm.image, "dockerURI": f"openpersonalize/{algorithm.name}:latest"},
        "defaultHyperParameters": catalogue.default_hyperparameters(algorithm),
        "defaultHyperParameterRanges": catalogue.default_hyperparameter_ranges(algorithm),
        "defaultResourceConfig": dict(catalogue.DEFAULT_RESOURCE_CONFIG),
        "trainingInputMode": catalogue.TRAINING_INPUT_MODE,
        "creationDateTime": algorithm.created,
        "lastUpdatedDateTime": algorithm.created,
    }


def _feature_transformation_body(ft: catalogue.FeatureTransformation) -> dict[str, Any]:
    return {
        "name": ft.name,
        "featureTransformationArn": ft.arn,
        "defaultParameters": catalogue.feature_transformation_defaults(ft),
        "creationDateTime": ft.created,
        "lastUpdatedDateTime": ft.created,
        "status": ACTIVE,
    }


def list_recipes(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListRecipes: every recipe (newest first), or only one domain's use cases."""
    domain = params.get("domain")
    chosen = sorted(catalogue.recipes_for(domain), key=lambda r: (-r.created, r.name))
    # The domain is part of the token's kind: a token from one listing is refused by another.
    kind = f"{_SUMMARY_KIND}:{domain or 'ALL'}"
    return paginate(ctx, params, kind, [_summary_record(r) for r in chosen], "recipes", lambda r: r.body)


def describe_recipe(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeRecipe."""
    return {"recipe": _recipe_body(catalogue.recipe(params["recipeArn"]))}


def describe_algorithm(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeAlgorithm."""
    return {"algorithm": _algorithm_body(catalogue.algorithm(params["algorithmArn"]))}


def describe_feature_transformation(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeFeatureTransformation."""
    ft = catalogue.feature_transformation(params["featureTransformationArn"])
    return {"featureTransformation": _feature_transformation_body(ft)}
