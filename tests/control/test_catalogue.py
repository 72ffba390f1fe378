"""ListRecipes, DescribeRecipe, DescribeAlgorithm, DescribeFeatureTransformation over boto3 (spec §2.12, §5, §6)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from openpersonalize.recipes.registry import RECORDS

RECIPE = "arn:aws:personalize:::recipe/"
ALGORITHM = "arn:aws:personalize:::algorithm/"
FEATURE = "arn:aws:personalize:::feature-transformation/"

# spec §5.1: name → (recipeType, algorithm, feature transformation)
CUSTOM = {
    "aws-user-personalization-v2": ("USER_PERSONALIZATION", "aws-user-personalization-v2", None),
    "aws-user-personalization": ("USER_PERSONALIZATION", "aws-user-personalization", None),
    "aws-trending-now": ("POPULAR_ITEMS", "aws-trending-now-custom", None),
    "aws-popularity-count": ("POPULAR_ITEMS", "aws-popularity-count", "sims"),
    "aws-personalized-ranking-v2": ("PERSONALIZED_RANKING", "aws-personalized-ranking-v2", None),
    "aws-personalized-ranking": ("PERSONALIZED_RANKING", "aws-personalized-ranking", "JSON-percentile-filtering"),
    "aws-semantic-similarity": ("RELATED_ITEMS", "aws-semantic-similarity", "aws-semantic-similarity"),
    "aws-similar-items": ("RELATED_ITEMS", "aws-similar-items", None),
    "aws-sims": ("RELATED_ITEMS", "aws-sims", "sims"),
    "aws-next-best-action": ("PERSONALIZED_ACTIONS", "aws-next-best-action", None),
    "aws-item-affinity": ("USER_SEGMENTATION", "aws-item-affinity", "item-affinity"),
    "aws-item-attribute-affinity": ("USER_SEGMENTATION", "aws-item-attribute-affinity", "item-attribute-affinity"),
    "aws-hrnn": ("USER_PERSONALIZATION", "aws-hrnn", "JSON-percentile-filtering"),
    "aws-hrnn-metadata": ("USER_PERSONALIZATION", "aws-hrnn-metadata", "featurize_metadata"),
    "aws-hrnn-coldstart": ("USER_PERSONALIZATION", "aws-hrnn-coldstart", "featurize_coldstart"),
}
# spec §6, recipeType per the §5.1 ambiguity note
VOD = {
    "aws-vod-because-you-watched-x": "RELATED_ITEMS",
    "aws-vod-more-like-x": "RELATED_ITEMS",
    "aws-vod-most-popular": "POPULAR_ITEMS",
    "aws-vod-trending-now": "POPULAR_ITEMS",
    "aws-vod-top-picks": "USER_PERSONALIZATION",
}
ECOMMERCE = {
    "aws-ecomm-popular-items-by-views": "POPULAR_ITEMS",
    "aws-ecomm-popular-items-by-purchases": "POPULAR_ITEMS",
    "aws-ecomm-frequently-bought-together": "RELATED_ITEMS",
    "aws-ecomm-customers-who-viewed-x-also-viewed": "RELATED_ITEMS",
    "aws-ecomm-recommended-for-you": "USER_PERSONALIZATION",
}
ALL = {**{n: t for n, (t, _, _) in CUSTOM.items()}, **VOD, **ECOMMERCE}


def error_of(call: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]  # type: ignore[no-any-return]


def all_summaries(personalize: Any, **kwargs: Any) -> list[dict[str, Any]]:
    pages = personalize.get_paginator("list_recipes").paginate(**kwargs, PaginationConfig={"PageSize": 4})
    return [summary for page in pages for summary in page["recipes"]]


def test_list_recipes_returns_every_recipe_once(personalize: Any) -> None:
    summaries = all_summaries(personalize, recipeProvider="SERVICE")
    arns = [s["recipeArn"] for s in summaries]
    assert len(arns) == len(set(arns)) == len(ALL)
    assert {s["name"] for s in summaries} == set(ALL)
    assert all(s["status"] == "ACTIVE" and s["recipeArn"] == RECIPE + s["name"] for s in summaries)
    assert all(s["creationDateTime"] <= s["lastUpdatedDateTime"] for s in summaries)
    custom = [s for s in summaries if s["name"] in CUSTOM]
    assert all("domain" not in s for s in custom)


def test_list_recipes_pages_with_next_token(personalize: Any) -> None:
    first = personalize.list_recipes(maxResults=10)
    assert len(first["recipes"]) == 10 and first["nextToken"]
    second = personalize.list_recipes(maxResults=10, nextToken=first["nextToken"])
    third = personalize.list_recipes(maxResults=10, nextToken=second["nextToken"])
    assert len(third["recipes"]) == len(ALL) - 20 and "nextToken" not in third
    names = [r["name"] for page in (first, second, third) for r in page["recipes"]]
    assert sorted(names) == sorted(ALL)
    # Newest first (spec §1.8 impl. choice): the v2 recipes are the most recent custom ones.
    created = [r["creationDateTime"] for page in (first, second, third) for r in page["recipes"]]
    assert created == sorted(created, reverse=True)
    assert "nextToken" not in personalize.list_recipes()


@pytest.mark.parametrize(("domain", "expected"), [("VIDEO_ON_DEMAND", VOD), ("ECOMMERCE", ECOMMERCE)])
def test_list_recipes_domain_filter(personalize: Any, domain: str, expected: dict[str, str]) -> None:
    summaries = all_summaries(personalize, domain=domain)
    assert {s["name"] for s in summaries} == set(expected)
    assert all(s["domain"] == domain for s in summaries)


def test_list_recipes_bad_token_and_enums(personalize: Any) -> None:
    err = error_of(personalize.list_recipes, nextToken="not-a-token")
    assert err["Code"] == "InvalidNextTokenException" and "not-a-token" in err["Message"]
    vod_token = personalize.list_recipes(domain="VIDEO_ON_DEMAND", maxResults=2)["nextToken"]
    err = error_of(personalize.list_recipes, nextToken=vod_token)
    assert err["Code"] == "InvalidNextTokenException"
    err = error_of(personalize.list_recipes, domain="GROCERY")
    assert err["Code"] == "InvalidInputException" and "domain" in err["Message"] and "GROCERY" in err["Message"]
    err = error_of(personalize.list_recipes, recipeProvider="CUSTOMER")
    assert err["Code"] == "InvalidInputException" and "recipeProvider" in err["Message"]


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_recipe_and_its_algorithm_describe(personalize: Any, name: str) -> None:
    recipe = personalize.describe_recipe(recipeArn=RECIPE + name)["recipe"]
    assert recipe["name"] == name and recipe["recipeArn"] == RECIPE + name
    assert recipe["recipeType"] == ALL[name] and recipe["status"] == "ACTIVE"
    assert len(recipe["description"]) > 40
    assert recipe["creationDateTime"] == recipe["lastUpdatedDateTime"]
    if name in CUSTOM:
        _, algorithm_name, feature = CUSTOM[name]
        assert recipe["algorithmArn"] == ALGORITHM + algorithm_name
        assert recipe.get("featureTransformationArn") == (FEATURE + feature if feature else None)
    algorithm = personalize.describe_algorithm(algorithmArn=recipe["algorithmArn"])["algorithm"]
    assert algorithm["algorithmArn"] == recipe["algorithmArn"]
    assert algorithm["algorithmImage"]["dockerURI"] == f"openpersonalize/{algorithm['name']}:latest"
    assert algorithm["trainingInputMode"] == "File"
    assert set(algorithm["defaultResourceConfig"]) == {"maxNumberOfTrainingJobs", "maxParallelTrainingJobs"}
    ranges = algorithm["defaultHyperParameterRanges"]
    named = {r["name"] for kind in ranges.values() for r in kind}
    assert named == set(algorithm["defaultHyperParameters"])
    if "featureTransformationArn" in recipe:
        ft = personalize.describe_feature_transformation(featureTransformationArn=recipe["featureTransformationArn"])
        assert ft["featureTransformation"]["status"] == "ACTIVE"
        assert ft["featureTransformation"]["featureTransformationArn"] == recipe["featureTransformationArn"]


def test_describe_algorithm_user_personalization_ranges(personalize: Any) -> None:
    algorithm = personalize.describe_algorithm(algorithmArn=ALGORITHM + "aws-user-personalization")["algorithm"]
    assert algorithm["defaultHyperParameters"] == {"hidden_dimension": "149", "bptt": "32", "recency_mask": "true"}
    ranges = algorithm["defaultHyperParameterRanges"]
    assert {"name": "hidden_dimension", "minValue": 32, "maxValue": 256, "isTunable": True} in (
        ranges["integerHyperParameterRanges"])
    assert {"name": "bptt", "minValue": 2, "maxValue": 32, "isTunable": True} in ranges["integerHyperParameterRanges"]
    assert ranges["categoricalHyperParameterRanges"] == [
        {"name": "recency_mask", "values": ["true", "false"], "isTunable": True}]
    assert int(algorithm["defaultResourceConfig"]["maxNumberOfTrainingJobs"]) <= 40
    assert int(algorithm["defaultResourceConfig"]["maxParallelTrainingJobs"]) <= 10


def test_describe_algorithm_sims_and_untunable_affinity(personalize: Any) -> None:
    sims = personalize.describe_algorithm(algorithmArn=ALGORITHM + "aws-sims")["algorithm"]
    assert sims["defaultHyperParameters"] == {"popularity_discount_factor": "0.5", "min_cointeraction_count": "3"}
    assert sims["defaultHyperParameterRanges"]["continuousHyperParameterRanges"] == [
        {"name": "popularity_discount_factor", "minValue": 0.0, "maxValue": 1.0, "isTunable": True}]
    affinity = personalize.describe_algorithm(algorithmArn=ALGORITHM + "aws-item-affinity")["algorithm"]
    assert affinity["defaultHyperParameters"] == {"hidden_dimension": "32"}  # AWS: 149 (recipes/affinity.py)
    assert affinity["defaultHyperParameterRanges"]["integerHyperParameterRanges"] == [
        {"name": "hidden_dimension", "minValue": 32, "maxValue": 256, "isTunable": False}]
    hrnn = personalize.describe_algorithm(algorithmArn=ALGORITHM + "aws-hrnn")["algorithm"]
    assert hrnn["defaultHyperParameters"]["hidden_dimension"] == "43"


def test_every_answer_is_the_records(personalize: Any) -> None:
    """DescribeRecipe and DescribeAlgorithm of every recipe say what its record declares."""
    for record in RECORDS.values():
        recipe = personalize.describe_recipe(recipeArn=record.arn)["recipe"]
        assert (recipe["name"], recipe["recipeType"], recipe["algorithmArn"]) == (
            record.name, record.recipe_type, record.algorithm.arn)
        assert recipe.get("featureTransformationArn") == (
            record.feature_transformation.arn if record.feature_transformation else None)
        algorithm = personalize.describe_algorithm(algorithmArn=record.algorithm.arn)["algorithm"]
        declared = record.algorithm.scoped("algorithm")
        assert algorithm["defaultHyperParameters"] == {p.name: p.default_text() for p in declared}
        tunable = {r["name"]: r["isTunable"] for kind in algorithm["defaultHyperParameterRanges"].values() for r in kind}
        assert tunable == {p.name: p.tunable for p in declared}


def test_describe_feature_transformation_defaults(personalize: Any) -> None:
    sims = personalize.describe_feature_transformation(featureTransformationArn=FEATURE + "sims")
    assert sims["featureTransformation"]["defaultParameters"] == {
        "min_user_history_length_percentile": "0.005",
        "max_user_history_length_percentile": "0.995",
        "min_item_interaction_count_percentile": "0.01",
        "max_item_interaction_count_percentile": "0.9",
    }
    coldstart = personalize.describe_feature_transformation(featureTransformationArn=FEATURE + "featurize_coldstart")
    params = coldstart["featureTransformation"]["defaultParameters"]
    assert params["cold_start_max_interactions"] == "15" and params["cold_start_relative_from"] == "latestItem"
    assert params["max_user_history_length_percentile"] == "0.99"


@pytest.mark.parametrize(
    ("operation", "member", "arn"),
    [
        ("describe_recipe", "recipeArn", RECIPE + "aws-no-such-recipe"),
        ("describe_algorithm", "algorithmArn", ALGORITHM + "aws-no-such-algorithm"),
        ("describe_feature_transformation", "featureTransformationArn", FEATURE + "no-such-transformation"),
        # a real recipe ARN is not an algorithm ARN
        ("describe_algorithm", "algorithmArn", RECIPE + "aws-sims"),
    ],
)
def test_unknown_arns_are_not_found(personalize: Any, operation: str, member: str, arn: str) -> None:
    err = error_of(getattr(personalize, operation), **{member: arn})
    assert err["Code"] == "ResourceNotFoundException"
    assert arn in err["Message"]


def test_malformed_arn_is_invalid_input(personalize: Any) -> None:
    err = error_of(personalize.describe_recipe, recipeArn="aws-sims")
    assert err["Code"] == "InvalidInputException" and "recipeArn" in err["Message"]
