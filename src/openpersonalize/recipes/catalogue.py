"""The recipe catalogue: every recipe, algorithm and feature transformation the service offers (spec §5, §6).

Built from the recipe records (``registry.RECORDS``, each declared beside its model class): the
``DescribeAlgorithm`` defaults and ranges, the ``DescribeFeatureTransformation`` defaults, the HPO ranges, and
the validation of ``solutionConfig.algorithmHyperParameters`` / ``featureTransformationParameters`` that
CreateSolution performs all derive from the records' hyperparameter declarations (STYLE habit 9).

This module knows the global recipe/algorithm/feature-transformation ARN strings and nothing about HTTP or
the metadata store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from ..errors import InvalidInputException, ResourceNotFoundException
from ._params import HyperParameter, Scope, Value, format_value
from ._records import (
    ALGORITHM_PREFIX,
    ECOMMERCE,
    FEATURE_TRANSFORMATION_PREFIX,
    PERSONALIZED_ACTIONS,
    PERSONALIZED_RANKING,
    POPULAR_ITEMS,
    RECIPE_PREFIX,
    RELATED_ITEMS,
    USER_PERSONALIZATION,
    USER_SEGMENTATION,
    VIDEO_ON_DEMAND,
    Algorithm,
    FeatureTransformation,
    RecipeRecord,
    UseCase,
    runtime_operation,
)
from .registry import CUSTOM, RECORDS

__all__ = [
    "ALGORITHM_PREFIX", "FEATURE_TRANSFORMATION_PREFIX", "RECIPE_PREFIX", "ECOMMERCE", "PERSONALIZED_ACTIONS",
    "PERSONALIZED_RANKING", "POPULAR_ITEMS", "RELATED_ITEMS", "USER_PERSONALIZATION", "USER_SEGMENTATION",
    "VIDEO_ON_DEMAND", "Algorithm", "FeatureTransformation", "RecipeRecord", "UseCase", "runtime_operation", "RECORDS", "ALGORITHMS",
    "FEATURE_TRANSFORMATIONS",
]
_T = TypeVar("_T")

# Used when an algorithm does not say otherwise; CreateSolution caps these at 40 and 10 (spec §5.2).
DEFAULT_RESOURCE_CONFIG = {"maxNumberOfTrainingJobs": "20", "maxParallelTrainingJobs": "5"}
TRAINING_INPUT_MODE = "File"
# The integer range shape allows at most 1,000,000 (Appendix A): the top of an open-ended range.
UNBOUNDED = 1_000_000
_MAP_NAMES = {"algorithm": "algorithmHyperParameters", "featurization": "featureTransformationParameters",
              "campaign": "campaignConfig"}

# Use cases share their base recipe's algorithm and featurization, so the custom recipes name them all.
ALGORITHMS: dict[str, Algorithm] = {r.algorithm.arn: r.algorithm for r in CUSTOM}
FEATURE_TRANSFORMATIONS: dict[str, FeatureTransformation] = {
    r.feature_transformation.arn: r.feature_transformation for r in CUSTOM if r.feature_transformation}


# ---- Look-ups ----------------------------------------


def _find(table: Mapping[str, _T], arn: str, what: str) -> _T:
    if arn not in table:
        raise ResourceNotFoundException(f"The {what} {arn} does not exist.")
    return table[arn]


def recipe(arn: str) -> RecipeRecord:
    """The recipe with this ARN, or ResourceNotFoundException."""
    return _find(RECORDS, arn, "recipe")


def algorithm(arn: str) -> Algorithm:
    return _find(ALGORITHMS, arn, "algorithm")


def feature_transformation(arn: str) -> FeatureTransformation:
    return _find(FEATURE_TRANSFORMATIONS, arn, "feature transformation")


def names_of(where: Callable[[RecipeRecord], bool]) -> str:
    """The custom recipes that have a capability, for messages that tell the caller which to use."""
    return " or ".join(r.name for r in CUSTOM if where(r))


def recipes_for(domain: str | None) -> list[RecipeRecord]:
    """ListRecipes: one domain's use cases, or every recipe when no domain is given (spec §2.12)."""
    return [r for r in RECORDS.values() if domain is None or r.domain == domain]


# ---- Derived describe bodies ----------------------------------------


def default_hyperparameters(algo: Algorithm) -> dict[str, str]:
    """DescribeAlgorithm.defaultHyperParameters: the algorithm-scope defaults, as strings."""
    return {p.name: p.default_text() for p in algo.scoped("algorithm")}


def _range(p: HyperParameter[Any], with_tunable: bool) -> tuple[str, dict[str, Any]]:
    entry: dict[str, Any] = {"name": p.name}
    if p.kind in ("bool", "categorical"):
        entry["values"] = list(p.values)
        key = "categoricalHyperParameterRanges"
    else:
        number = int if p.kind == "int" else float
        entry["minValue"] = number(p.low or 0)
        entry["maxValue"] = number(UNBOUNDED if p.high is None else p.high)
        key = "integerHyperParameterRanges" if p.kind == "int" else "continuousHyperParameterRanges"
    if with_tunable:
        entry["isTunable"] = p.tunable
    return key, entry


def _ranges(params: Iterable[HyperParameter[Any]], with_tunable: bool) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {
        "integerHyperParameterRanges": [], "continuousHyperParameterRanges": [], "categoricalHyperParameterRanges": []}
    for p in params:
        key, entry = _range(p, with_tunable)
        out[key].append(entry)
    return out


def default_hyperparameter_ranges(algo: Algorithm) -> dict[str, list[dict[str, Any]]]:
    """DescribeAlgorithm.defaultHyperParameterRanges: every algorithm-scope parameter, with isTunable."""
    return _ranges(algo.scoped("algorithm"), with_tunable=True)


def hpo_ranges(recipe_arn: str) -> dict[str, list[dict[str, Any]]]:
    """The full tunable ranges of a recipe, shaped like solutionConfig.hpoConfig.algorithmHyperParameterRanges."""
    return _ranges((p for p in recipe(recipe_arn).algorithm.scoped("algorithm") if p.tunable), with_tunable=False)


def feature_transformation_defaults(ft: FeatureTransformation) -> dict[str, str]:
    """DescribeFeatureTransformation.defaultParameters: the featurization parameters its algorithms declare."""
    users = [r.algorithm for r in CUSTOM if r.feature_transformation == ft]
    return {p.name: p.default_text() for a in users for p in a.scoped("featurization")}


# ---- Validation (CreateSolution, CreateCampaign) ----------------------------------------

def check_value(recipe_arn: str, p: HyperParameter[Any], text: Any, where: str | None = None) -> Value:
    """One wire value (a string) → its typed value, or InvalidInputException naming name, value and rule."""
    value = p.parse(text) if isinstance(text, str) else None
    if value is None or not p.in_range(value):
        raise InvalidInputException(
            f"The {where or _MAP_NAMES[p.scope]} value {text!r} for {p.name!r} is not valid for recipe "
            f"{recipe_arn}: it must be {p.rule()}.")
    return value


def _unknown(recipe_arn: str, algo: Algorithm, scope: Scope, name: str) -> InvalidInputException:
    other = algo.parameter(name)
    if other is not None:
        return InvalidInputException(f"{name!r} does not belong in {_MAP_NAMES[scope]} for recipe {recipe_arn}; "
                                     f"set it in {_MAP_NAMES[other.scope]}.")
    allowed = ", ".join(p.name for p in algo.scoped(scope)) or "none"
    return InvalidInputException(
        f"Unknown {_MAP_NAMES[scope]} name {name!r} for recipe {recipe_arn}. Allowed names: {allowed}.")


def validate_parameters(recipe_arn: str, scope: Scope, given: Mapping[str, str], *,
                        allow_hpo_only: bool = False) -> dict[str, Value]:
    """One map of wire values → typed values of that scope, defaults filled in."""
    algo = recipe(recipe_arn).algorithm
    declared = {p.name: p for p in algo.scoped(scope)}
    for name in given:
        if name not in declared:
            raise _unknown(recipe_arn, algo, scope, name)
        if declared[name].hpo_only and not allow_hpo_only:
            raise InvalidInputException(
                f"{name!r} of recipe {recipe_arn} can only be chosen by HPO: set performHPO to true and give "
                f"its range in hpoConfig.algorithmHyperParameterRanges instead of the value {given[name]!r}.")
    values = {n: check_value(recipe_arn, p, given[n]) if n in given else p.default for n, p in declared.items()}
    _check_pairs(recipe_arn, values)
    return values


def _check_pairs(recipe_arn: str, values: Mapping[str, Value]) -> None:
    """min_X must not exceed max_X (the percentile filters keep the users/items between them)."""
    for name, low in values.items():
        twin = "max_" + name[4:]
        if name.startswith("min_") and twin in values and float(low) > float(values[twin]):
            raise InvalidInputException(
                f"{name!r} ({format_value(low)}) must not exceed {twin!r} ({format_value(values[twin])}) "
                f"for recipe {recipe_arn}.")


def validate_hyperparameters(recipe_arn: str, algorithm_params: Mapping[str, str],
                             featurization_params: Mapping[str, str], *,
                             allow_hpo_only: bool = False) -> dict[str, Any]:
    """solutionConfig.algorithmHyperParameters + featureTransformationParameters → typed values.

    Returns one flat dict of every algorithm and featurization parameter of the recipe's algorithm (names
    never repeat across the two scopes), defaults filled in. Unknown names, wrong types and out-of-range
    values raise InvalidInputException naming the parameter, the value received and what is allowed.
    ``allow_hpo_only`` admits values of HPO-only parameters (a tuned result being applied).
    """
    values: dict[str, Any] = validate_parameters(recipe_arn, "algorithm", algorithm_params,
                                                 allow_hpo_only=allow_hpo_only)
    values.update(validate_parameters(recipe_arn, "featurization", featurization_params))
    return values


def _hpo_entry(recipe_arn: str, algo: Algorithm, key: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    name = entry.get("name")
    p = algo.parameter(name) if isinstance(name, str) else None
    if p is None or p.scope != "algorithm" or not p.tunable:
        tunable = ", ".join(q.name for q in algo.scoped("algorithm") if q.tunable) or "none"
        raise InvalidInputException(
            f"{name!r} in hpoConfig.algorithmHyperParameterRanges.{key} is not a tunable hyperparameter of "
            f"recipe {recipe_arn}. Tunable names: {tunable}.")
    expected, _ = _range(p, with_tunable=False)
    if key != expected:
        raise InvalidInputException(f"The HPO range of {name!r} for recipe {recipe_arn} belongs in {expected}, "
                                    f"not {key}.")
    where = f"hpoConfig.algorithmHyperParameterRanges.{key}"
    if key == "categoricalHyperParameterRanges":
        values = [check_value(recipe_arn, p, v, where) for v in entry.get("values") or []]
        if not values:
            raise InvalidInputException(f"The HPO range of {name!r} for recipe {recipe_arn} lists no values.")
        return {"name": name, "values": [format_value(v) for v in values]}
    low, high = entry.get("minValue"), entry.get("maxValue")
    if low is None or high is None:
        raise InvalidInputException(f"The HPO range of {name!r} for recipe {recipe_arn} needs both minValue "
                                    f"and maxValue.")
    for bound in (low, high):
        check_value(recipe_arn, p, str(bound), where)
    if float(low) > float(high):
        raise InvalidInputException(f"The HPO range of {name!r} for recipe {recipe_arn} has minValue {low} "
                                    f"greater than maxValue {high}.")
    return {"name": name, "minValue": low, "maxValue": high}


def validate_hpo_ranges(recipe_arn: str, ranges: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """hpoConfig.algorithmHyperParameterRanges → the same shape, checked against the declared ranges.

    Every name must be a tunable algorithm hyperparameter of the recipe, in the list of its kind, named once,
    with bounds (or categorical values) inside the declared range.
    """
    algo = recipe(recipe_arn).algorithm
    out: dict[str, list[dict[str, Any]]] = {key: [] for key in _ranges((), with_tunable=False)}
    seen: set[str] = set()
    for key in out:
        for entry in ranges.get(key) or []:
            checked = _hpo_entry(recipe_arn, algo, key, entry)
            if checked["name"] in seen:
                raise InvalidInputException(f"{checked['name']!r} appears more than once in "
                                            f"hpoConfig.algorithmHyperParameterRanges.")
            seen.add(checked["name"])
            out[key].append(checked)
    return out
