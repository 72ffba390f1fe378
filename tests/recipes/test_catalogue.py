"""The recipe catalogue as data: declarations, derived bodies, hyperparameter and HPO-range validation."""

from __future__ import annotations

from typing import Any

import pytest

from openpersonalize.errors import InvalidInputException, ResourceNotFoundException
from openpersonalize.recipes import catalogue as cat

R = cat.RECIPE_PREFIX


def invalid(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(InvalidInputException) as caught:
        call(*args, **kwargs)
    return caught.value.message


# --- the catalogue is internally consistent ---------------------------------------------------------------


def test_every_recipe_points_at_a_declared_algorithm_and_transformation() -> None:
    for recipe in cat.RECORDS.values():
        assert cat.ALGORITHMS[recipe.algorithm.arn] is recipe.algorithm
        if recipe.feature_transformation:
            assert cat.FEATURE_TRANSFORMATIONS[recipe.feature_transformation.arn] == recipe.feature_transformation
    used = {r.algorithm.name for r in cat.RECORDS.values()}
    assert used == {a.name for a in cat.ALGORITHMS.values()}  # no orphan algorithm


def test_domain_use_cases() -> None:
    for domain in (cat.VIDEO_ON_DEMAND, cat.ECOMMERCE):
        cases = cat.recipes_for(domain)
        assert len(cases) == 5 and all(r.domain == domain and r.use_case for r in cases)
    assert len(cat.recipes_for(None)) == 25
    top_picks = cat.recipe(R + "aws-vod-top-picks")
    assert top_picks.use_case and top_picks.use_case.filter_event_type == "Watch" and top_picks.use_case.exploration
    assert top_picks.capabilities.exploration and not top_picks.capabilities.update_training
    assert top_picks.algorithm.name == "aws-user-personalization"
    assert top_picks.use_case.base is cat.recipe(R + "aws-user-personalization")
    best_sellers = cat.recipe(R + "aws-ecomm-popular-items-by-purchases")
    assert best_sellers.use_case and best_sellers.use_case.required_event_type == "Purchase"


def test_parameter_names_are_unique_per_algorithm_and_defaults_are_valid() -> None:
    for algo in cat.ALGORITHMS.values():
        names = [p.name for p in algo.parameters]
        assert len(names) == len(set(names)), algo.name
        for p in algo.parameters:
            # The declared default, sent back as its wire string, parses to itself and is in range.
            assert cat.check_value(R + "x", p, p.default_text()) == p.default, p.name
            assert not p.hpo_only or p.tunable


def test_shared_feature_transformations_agree() -> None:
    # Algorithms that share a feature transformation declare the same featurization defaults.
    for ft in cat.FEATURE_TRANSFORMATIONS.values():
        seen: dict[str, str] = {}
        for recipe in cat.RECORDS.values():
            if recipe.feature_transformation == ft:
                for p in recipe.algorithm.scoped("featurization"):
                    assert seen.setdefault(p.name, p.default_text()) == p.default_text(), (ft.name, p.name)


@pytest.mark.parametrize(
    ("recipe", "name", "default", "low", "high", "tunable"),
    [  # spec §5.2
        ("aws-user-personalization", "hidden_dimension", 149, 32, 256, True),
        ("aws-user-personalization", "bptt", 32, 2, 32, True),
        ("aws-personalized-ranking", "hidden_dimension", 149, 32, 256, True),
        ("aws-sims", "popularity_discount_factor", 0.5, 0.0, 1.0, True),
        ("aws-sims", "min_cointeraction_count", 3, 0, 10, True),
        ("aws-sims", "max_item_interaction_count_percentile", 0.9, 0.0, 1.0, False),
        ("aws-similar-items", "item_id_hidden_dim", 100, 30, 200, True),
        ("aws-next-best-action", "action_optimization_period", 14, 7, 28, False),
        ("aws-item-affinity", "hidden_dimension", 32, 32, 256, False),  # AWS: 149; see recipes/affinity.py
        ("aws-hrnn", "hidden_dimension", 43, 32, 256, True),
        ("aws-hrnn-coldstart", "cold_start_max_interactions", 15, 1, None, False),
    ],
)
def test_spec_hyperparameters(recipe: str, name: str, default: Any, low: Any, high: Any, tunable: bool) -> None:
    p = cat.recipe(R + recipe).algorithm.parameter(name)
    assert p is not None
    assert (p.default, p.low, p.high, p.tunable) == (default, low, high, tunable)


def test_derived_describe_bodies() -> None:
    up = cat.recipe(R + "aws-user-personalization").algorithm
    # campaign and featurization parameters are not algorithm hyperparameters
    assert cat.default_hyperparameters(up) == {"hidden_dimension": "149", "bptt": "32", "recency_mask": "true"}
    v2 = cat.default_hyperparameter_ranges(cat.recipe(R + "aws-user-personalization-v2").algorithm)
    assert v2["categoricalHyperParameterRanges"] == [
        {"name": "apply_recency_bias", "values": ["true", "false"], "isTunable": False}]
    ft = cat.feature_transformation(cat.FEATURE_TRANSFORMATION_PREFIX + "JSON-percentile-filtering")
    assert cat.feature_transformation_defaults(ft) == {
        "min_user_history_length_percentile": "0.0", "max_user_history_length_percentile": "0.99"}


def test_hpo_ranges_only_tunable() -> None:
    assert cat.hpo_ranges(R + "aws-sims") == {
        "integerHyperParameterRanges": [{"name": "min_cointeraction_count", "minValue": 0, "maxValue": 10}],
        "continuousHyperParameterRanges": [{"name": "popularity_discount_factor", "minValue": 0.0, "maxValue": 1.0}],
        "categoricalHyperParameterRanges": [],
    }
    assert cat.hpo_ranges(R + "aws-item-affinity") == {
        "integerHyperParameterRanges": [], "continuousHyperParameterRanges": [], "categoricalHyperParameterRanges": []}


def test_recipe_facts() -> None:
    record = cat.recipe
    assert record(R + "aws-ecomm-recommended-for-you").domain and not record(R + "aws-sims").domain
    assert record(R + "aws-hrnn-metadata").legacy and not record(R + "aws-user-personalization").legacy
    for name in ("aws-trending-now", "aws-next-best-action", "aws-item-affinity", "aws-vod-top-picks"):
        assert not record(R + name).capabilities.batch_inference, name
    for name in ("aws-user-personalization", "aws-sims", "aws-popularity-count", "aws-personalized-ranking-v2"):
        assert record(R + name).capabilities.batch_inference, name
    assert record(R + "aws-item-attribute-affinity").capabilities.segments == "attributes"
    assert record(R + "aws-sims").hpo and not record(R + "aws-user-personalization-v2").hpo
    assert record(R + "aws-hrnn-coldstart").capabilities.update_training
    assert not record(R + "aws-sims").capabilities.update_training
    assert record(R + "aws-semantic-similarity").capabilities.incremental_update
    assert record(R + "aws-personalized-ranking-v2").capabilities.events_config
    assert record(R + "aws-user-personalization").capabilities.optimization_objective
    assert record(R + "aws-personalized-ranking").runtime_operation == "GetPersonalizedRanking"
    assert record(R + "aws-next-best-action").runtime_operation == "GetActionRecommendations"
    assert record(R + "aws-item-affinity").runtime_operation is None
    assert record(R + "aws-vod-more-like-x").runtime_operation == "GetRecommendations"
    automatic = {r.name for r in cat.RECORDS.values() if r.capabilities.auto_update}
    assert automatic == {"aws-user-personalization", "aws-user-personalization-v2"}  # spec §3.4


def test_unknown_arns_raise_not_found() -> None:
    with pytest.raises(ResourceNotFoundException, match="aws-nope"):
        cat.recipe(R + "aws-nope")
    with pytest.raises(ResourceNotFoundException, match="algorithm"):
        cat.algorithm(cat.ALGORITHM_PREFIX + "aws-nope")
    with pytest.raises(ResourceNotFoundException, match="feature transformation"):
        cat.feature_transformation(cat.FEATURE_TRANSFORMATION_PREFIX + "nope")
    with pytest.raises(ResourceNotFoundException):
        cat.validate_hyperparameters(R + "aws-nope", {}, {})


# --- validate_hyperparameters ------------------------------------------------------------------------------

COLD = R + "aws-hrnn-coldstart"


def test_defaults_filled_and_values_typed() -> None:
    values = cat.validate_hyperparameters(COLD, {"bptt": "5", "recency_mask": "False"},
                                          {"cold_start_relative_from": "currenttime"})
    assert values["bptt"] == 5 and values["recency_mask"] is False and values["hidden_dimension"] == 149
    assert values["cold_start_relative_from"] == "currentTime"
    assert values["cold_start_max_duration"] == 5.0 and values["max_user_history_length_percentile"] == 0.99
    assert cat.validate_hyperparameters(R + "aws-popularity-count", {}, {}) == {}
    trend = cat.validate_hyperparameters(R + "aws-trending-now", {}, {"trend_discovery_frequency": "3h"})
    assert trend == {"trend_discovery_frequency": "3 hours"}  # 2023 spelling accepted, canonical returned


def test_unknown_name() -> None:
    message = invalid(cat.validate_hyperparameters, COLD, {"learning_rate": "0.1"}, {})
    assert "'learning_rate'" in message and "algorithmHyperParameters" in message
    assert "hidden_dimension, bptt, recency_mask" in message and COLD in message
    message = invalid(cat.validate_hyperparameters, R + "aws-popularity-count", {}, {"x": "1"})
    assert "Allowed names: none" in message


def test_parameter_in_the_wrong_map() -> None:
    message = invalid(cat.validate_hyperparameters, COLD, {"cold_start_max_duration": "2"}, {})
    assert "featureTransformationParameters" in message and "'cold_start_max_duration'" in message
    message = invalid(cat.validate_hyperparameters, R + "aws-user-personalization", {"exploration_weight": "0.5"}, {})
    assert "campaignConfig" in message


@pytest.mark.parametrize(
    ("algorithm_params", "featurization_params", "name", "rule"),
    [
        ({"bptt": "50"}, {}, "bptt", "an integer in the range [2, 32]"),  # out of range
        ({"bptt": "1"}, {}, "bptt", "[2, 32]"),
        ({"hidden_dimension": "64.5"}, {}, "hidden_dimension", "an integer"),  # ill-typed
        ({"hidden_dimension": "lots"}, {}, "hidden_dimension", "an integer"),
        ({"recency_mask": "yes"}, {}, "recency_mask", "a boolean: true or false"),
        ({}, {"cold_start_max_duration": "0"}, "cold_start_max_duration", "a number > 0"),  # open bound
        ({}, {"cold_start_max_duration": "nan"}, "cold_start_max_duration", "a number > 0"),
        ({}, {"cold_start_max_interactions": "0"}, "cold_start_max_interactions", "an integer >= 1"),
        ({}, {"max_user_history_length_percentile": "1.5"}, "max_user_history_length_percentile", "[0, 1]"),
        ({}, {"cold_start_relative_from": "yesterday"}, "cold_start_relative_from", "'latestItem', 'currentTime'"),
    ],
)
def test_bad_values_name_parameter_value_and_rule(
    algorithm_params: dict[str, str], featurization_params: dict[str, str], name: str, rule: str
) -> None:
    message = invalid(cat.validate_hyperparameters, COLD, algorithm_params, featurization_params)
    received = {**algorithm_params, **featurization_params}[name]
    assert f"'{name}'" in message and f"'{received}'" in message and rule in message


def test_min_above_max_percentile() -> None:
    message = invalid(cat.validate_hyperparameters, R + "aws-sims", {},
                      {"min_user_history_length_percentile": "0.9", "max_user_history_length_percentile": "0.5"})
    assert "'min_user_history_length_percentile' (0.9)" in message and "(0.5)" in message


def test_hpo_only_parameter() -> None:
    message = invalid(cat.validate_hyperparameters, R + "aws-similar-items", {"item_id_hidden_dim": "50"}, {})
    assert "'item_id_hidden_dim'" in message and "performHPO" in message and "'50'" in message
    tuned = cat.validate_hyperparameters(R + "aws-similar-items", {"item_id_hidden_dim": "50"}, {},
                                         allow_hpo_only=True)
    assert tuned == {"item_id_hidden_dim": 50, "item_metadata_hidden_dim": 100}


def test_campaign_scope_validation() -> None:
    values = cat.validate_parameters(R + "aws-user-personalization", "campaign", {"exploration_weight": "0.1"})
    assert values == {"exploration_weight": 0.1, "exploration_item_age_cut_off": 30.0}
    message = invalid(cat.validate_parameters, R + "aws-user-personalization", "campaign",
                      {"exploration_item_age_cut_off": "0.5"})
    assert "a number >= 1" in message and "'0.5'" in message


# --- validate_hpo_ranges -----------------------------------------------------------------------------------

UP = R + "aws-user-personalization"


def test_hpo_ranges_accepted_and_normalised() -> None:
    ranges = {"integerHyperParameterRanges": [{"name": "hidden_dimension", "minValue": 32, "maxValue": 64}],
              "categoricalHyperParameterRanges": [{"name": "recency_mask", "values": ["True"]}]}
    assert cat.validate_hpo_ranges(UP, ranges) == {
        "integerHyperParameterRanges": [{"name": "hidden_dimension", "minValue": 32, "maxValue": 64}],
        "continuousHyperParameterRanges": [],
        "categoricalHyperParameterRanges": [{"name": "recency_mask", "values": ["true"]}],
    }


@pytest.mark.parametrize(
    ("ranges", "expected"),
    [
        ({"integerHyperParameterRanges": [{"name": "learning_rate", "minValue": 1, "maxValue": 2}]},
         "'learning_rate' in hpoConfig.algorithmHyperParameterRanges.integerHyperParameterRanges is not a tunable"),
        ({"integerHyperParameterRanges": [{"name": "hidden_dimension", "minValue": 16, "maxValue": 64}]},
         "'16' for 'hidden_dimension'"),
        ({"integerHyperParameterRanges": [{"name": "hidden_dimension", "minValue": 128, "maxValue": 64}]},
         "minValue 128 greater than maxValue 64"),
        ({"continuousHyperParameterRanges": [{"name": "bptt", "minValue": 2.0, "maxValue": 4.0}]},
         "belongs in integerHyperParameterRanges"),
        ({"categoricalHyperParameterRanges": [{"name": "recency_mask", "values": ["maybe"]}]},
         "'maybe' for 'recency_mask'"),
        ({"integerHyperParameterRanges": [{"name": "bptt", "minValue": 2, "maxValue": 4},
                                          {"name": "bptt", "minValue": 5, "maxValue": 9}]},
         "'bptt' appears more than once"),
        ({"integerHyperParameterRanges": [{"name": "bptt", "minValue": 2}]}, "needs both minValue and maxValue"),
    ],
)
def test_bad_hpo_ranges(ranges: dict[str, Any], expected: str) -> None:
    assert expected in invalid(cat.validate_hpo_ranges, UP, ranges)


def test_untunable_parameter_is_not_an_hpo_range() -> None:
    ranges = {"integerHyperParameterRanges": [{"name": "hidden_dimension", "minValue": 32, "maxValue": 64}]}
    assert "Tunable names: none" in invalid(cat.validate_hpo_ranges, R + "aws-item-affinity", ranges)
