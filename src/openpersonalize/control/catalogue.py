"""Catalogue: not built yet (placeholder while the module is written)."""

from __future__ import annotations

from typing import Any

from ..api.errors import not_available
from .context import RequestContext


def list_recipes(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListRecipes."""
    raise not_available("ListRecipes")


def describe_recipe(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeRecipe."""
    raise not_available("DescribeRecipe")


def describe_algorithm(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeAlgorithm."""
    raise not_available("DescribeAlgorithm")


def describe_feature_transformation(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeFeatureTransformation."""
    raise not_available("DescribeFeatureTransformation")
