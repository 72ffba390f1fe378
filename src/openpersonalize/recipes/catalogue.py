"""The recipe catalogue: every recipe, algorithm and feature transformation the service offers (spec §5, §6).

Pure data plus small helpers. Each algorithm declares its hyperparameters ONCE, as typed
:class:`HyperParameter` values; everything else is derived from those declarations: the
``DescribeAlgorithm`` defaults and ranges, the ``DescribeFeatureTransformation`` defaults, the HPO
ranges, and the validation of ``solutionConfig.algorithmHyperParameters`` /
``featureTransformationParameters`` that CreateSolution performs (STYLE habit 9).

This module knows the global recipe/algorithm/feature-transformation ARN strings and nothing about
HTTP or the metadata store. Names, defaults and ranges follow the Developer Guide recipe pages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, TypeVar

from ..errors import InvalidInputException, ResourceNotFoundException

Kind = Literal["int", "float", "bool", "categorical"]
# "campaign" parameters (exploration) are set through CampaignConfig, not solutionConfig.
Scope = Literal["algorithm", "featurization", "campaign"]
Value = int | float | bool | str
_T = TypeVar("_T")

USER_PERSONALIZATION = "USER_PERSONALIZATION"
PERSONALIZED_RANKING = "PERSONALIZED_RANKING"
RELATED_ITEMS = "RELATED_ITEMS"
POPULAR_ITEMS = "POPULAR_ITEMS"
PERSONALIZED_ACTIONS = "PERSONALIZED_ACTIONS"
USER_SEGMENTATION = "USER_SEGMENTATION"
VIDEO_ON_DEMAND = "VIDEO_ON_DEMAND"
ECOMMERCE = "ECOMMERCE"

RECIPE_PREFIX = "arn:aws:personalize:::recipe/"
ALGORITHM_PREFIX = "arn:aws:personalize:::algorithm/"
FEATURE_TRANSFORMATION_PREFIX = "arn:aws:personalize:::feature-transformation/"

# Used when an algorithm does not say otherwise; CreateSolution caps these at 40 and 10 (spec §5.2).
DEFAULT_RESOURCE_CONFIG = {"maxNumberOfTrainingJobs": "20", "maxParallelTrainingJobs": "5"}
TRAINING_INPUT_MODE = "File"
# The integer range shape allows at most 1,000,000 (Appendix A): the top of an open-ended range.
UNBOUNDED = 1_000_000
_MAP_NAMES = {"algorithm": "algorithmHyperParameters", "featurization": "featureTransformationParameters",
              "campaign": "campaignConfig"}


def _stamp(day: str) -> float:
    """Fixed catalogue timestamps (about each recipe's public launch), so every response is stable."""
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp()


# ---- Declarations ----------------------------------------


@dataclass(frozen=True)
class HyperParameter:
    """One hyperparameter: its type, default, allowed values and whether HPO may tune it."""

    name: str
    kind: Kind
    default: Value
    low: float | None = None  # inclusive unless low_open
    high: float | None = None  # inclusive; None = no upper bound
    values: tuple[str, ...] = ()  # categorical: canonical spellings
    aliases: tuple[tuple[str, str], ...] = ()  # other accepted spellings → canonical
    tunable: bool = False
    hpo_only: bool = False  # may only be chosen by HPO from a range (Similar-Items dims)
    scope: Scope = "algorithm"
    low_open: bool = False

    def rule(self) -> str:
        """The allowed values in words, for error messages."""
        if self.kind == "bool":
            return "a boolean: true or false"
        if self.kind == "categorical":
            return "one of " + ", ".join(repr(v) for v in self.values)
        noun = "an integer" if self.kind == "int" else "a number"
        if self.high is None:
            sign = ">" if self.low_open else ">="
            return f"{noun} {sign} {_show(self.low)}"
        return f"{noun} in the range {'(' if self.low_open else '['}{_show(self.low)}, {_show(self.high)}]"

    def default_text(self) -> str:
        """The default as the wire carries it: every hyperparameter value is a string."""
        return format_value(self.default)


def format_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _show(number: float | None) -> str:
    return format_value(int(number)) if number is not None and float(number).is_integer() else str(number)


def _int(name: str, default: int, low: int, high: int | None, *, tunable: bool = False,
         hpo_only: bool = False, scope: Scope = "algorithm") -> HyperParameter:
    return HyperParameter(name, "int", default, low, high, tunable=tunable, hpo_only=hpo_only, scope=scope)


def _float(name: str, default: float, low: float, high: float | None, *, tunable: bool = False,
           scope: Scope = "algorithm", low_open: bool = False) -> HyperParameter:
    return HyperParameter(name, "float", default, low, high, tunable=tunable, scope=scope, low_open=low_open)


def _bool(name: str, default: bool, *, tunable: bool = False) -> HyperParameter:
    return HyperParameter(name, "bool", default, values=("true", "false"), tunable=tunable)


def _choice(name: str, default: str, values: tuple[str, ...], *, scope: Scope,
            aliases: tuple[tuple[str, str], ...] = ()) -> HyperParameter:
    return HyperParameter(name, "categorical", default, values=values, aliases=aliases, scope=scope)


def _hidden(default: int, *, tunable: bool) -> HyperParameter:
    return _int("hidden_dimension", default, 32, 256, tunable=tunable)


def _user_percentiles(low: float, high: float) -> tuple[HyperParameter, ...]:
    return (
        _float("min_user_history_length_percentile", low, 0.0, 1.0, scope="featurization"),
        _float("max_user_history_length_percentile", high, 0.0, 1.0, scope="featurization"),
    )


_SEQUENCE = (_int("bptt", 32, 2, 32, tunable=True), _bool("recency_mask", True, tunable=True))
# CampaignConfig explorationWeight / explorationItemAgeCutOff (User-Personalization page: minimum 1 day).
_EXPLORATION = (
    _float("exploration_weight", 0.3, 0.0, 1.0, scope="campaign"),
    _float("exploration_item_age_cut_off", 30.0, 1.0, None, scope="campaign"),
)
_RECENCY_BIAS = (_bool("apply_recency_bias", True),)  # v2 recipes: HPO runs automatically, never by request


@dataclass(frozen=True)
class Algorithm:
    """An algorithm: the model family a recipe trains, with its declared hyperparameters."""

    name: str
    image: str  # algorithmImage.name: what the model is
    parameters: tuple[HyperParameter, ...]
    created: float

    @property
    def arn(self) -> str:
        return ALGORITHM_PREFIX + self.name

    def scoped(self, scope: Scope) -> tuple[HyperParameter, ...]:
        return tuple(p for p in self.parameters if p.scope == scope)

    def parameter(self, name: str) -> HyperParameter | None:
        return next((p for p in self.parameters if p.name == name), None)


@dataclass(frozen=True)
class FeatureTransformation:
    name: str
    created: float

    @property
    def arn(self) -> str:
        return FEATURE_TRANSFORMATION_PREFIX + self.name


@dataclass(frozen=True)
class UseCase:
    """What a domain use case adds to the recipe it is built on (spec §6)."""

    base: str  # name of the custom recipe whose model serves it
    required_event_type: str | None  # ≥1000 interactions of this type (case-insensitive), else any type
    filter_event_type: str | None  # items the user already interacted with this way are removed
    needs_user: bool  # GetRecommendations requires userId
    needs_item: bool  # GetRecommendations requires itemId
    exploration: bool = False


@dataclass(frozen=True)
class Recipe:
    name: str
    recipe_type: str
    algorithm: str
    feature_transformation: str | None
    description: str
    created: float
    domain: str | None = None
    legacy: bool = False
    use_case: UseCase | None = field(default=None)

    @property
    def arn(self) -> str:
        return RECIPE_PREFIX + self.name


# ---- The catalogue ----------------------------------------

_GA, _UP, _AFFINITY, _TRENDING = _stamp("2019-06-10"), _stamp("2020-08-13"), _stamp("2022-06-07"), _stamp("2022-07-20")
_SIMILAR, _NBA, _V2, _SEMANTIC = _stamp("2022-09-29"), _stamp("2023-04-20"), _stamp("2024-05-02"), _stamp("2025-04-15")
_DOMAINS = _stamp("2021-11-29")

_ALGORITHMS = (
    Algorithm("aws-user-personalization-v2", "transformer-user-personalization", _RECENCY_BIAS, _V2),
    Algorithm("aws-user-personalization", "sequence-bandit-user-personalization",
              (_hidden(149, tunable=True), *_SEQUENCE, *_user_percentiles(0.0, 0.99), *_EXPLORATION), _UP),
    Algorithm("aws-trending-now-custom", "interval-trend-detector", (
        _choice("trend_discovery_frequency", "2 hours", ("30 minutes", "1 hour", "2 hours", "3 hours", "1 day"),
                scope="featurization",
                # 2023 docs spelled the values 30 min / 1h / 3h (spec §12.1).
                aliases=(("30 min", "30 minutes"), ("1h", "1 hour"), ("2h", "2 hours"), ("3h", "3 hours"),
                         ("1d", "1 day"))),
    ), _TRENDING),
    Algorithm("aws-popularity-count", "unique-user-popularity-count", (), _GA),
    Algorithm("aws-personalized-ranking-v2", "transformer-personalized-ranking", _RECENCY_BIAS, _V2),
    Algorithm("aws-personalized-ranking", "sequence-personalized-ranking",
              (_hidden(149, tunable=True), *_SEQUENCE, *_user_percentiles(0.0, 0.99)), _GA),
    Algorithm("aws-semantic-similarity", "text-embedding-similarity", (), _SEMANTIC),
    Algorithm("aws-similar-items", "cooccurrence-metadata-similarity", (
        _int("item_id_hidden_dim", 100, 30, 200, tunable=True, hpo_only=True),
        _int("item_metadata_hidden_dim", 100, 30, 200, tunable=True, hpo_only=True),
    ), _SIMILAR),
    Algorithm("aws-sims", "item-cooccurrence-sims", (
        _float("popularity_discount_factor", 0.5, 0.0, 1.0, tunable=True),
        _int("min_cointeraction_count", 3, 0, 10, tunable=True),
        *_user_percentiles(0.005, 0.995),
        _float("min_item_interaction_count_percentile", 0.01, 0.0, 1.0, scope="featurization"),
        _float("max_item_interaction_count_percentile", 0.9, 0.0, 1.0, scope="featurization"),
    ), _GA),
    Algorithm("aws-next-best-action", "action-propensity-model",
              (_int("action_optimization_period", 14, 7, 28, scope="featurization"),), _NBA),
    # Affinity recipes do not allow HPO: hidden_dimension is declared but not tunable.
    Algorithm("aws-item-affinity", "item-affinity-segmentation", (_hidden(149, tunable=False),), _AFFINITY),
    Algorithm("aws-item-attribute-affinity", "attribute-affinity-segmentation",
              (_hidden(149, tunable=False),), _AFFINITY),
    Algorithm("aws-hrnn", "hierarchical-rnn",
              (_hidden(43, tunable=True), *_SEQUENCE, *_user_percentiles(0.0, 0.99)), _GA),
    Algorithm("aws-hrnn-metadata", "hierarchical-rnn-metadata",
              (_hidden(43, tunable=True), *_SEQUENCE, *_user_percentiles(0.0, 0.99)), _GA),
    Algorithm("aws-hrnn-coldstart", "hierarchical-rnn-coldstart", (
        _hidden(149, tunable=True), *_SEQUENCE,
        _int("cold_start_max_interactions", 15, 1, None, scope="featurization"),
        _float("cold_start_max_duration", 5.0, 0.0, None, scope="featurization", low_open=True),
        _choice("cold_start_relative_from", "latestItem", ("latestItem", "currentTime"), scope="featurization"),
        *_user_percentiles(0.0, 0.99),
    ), _GA),
)

_FEATURE_TRANSFORMATIONS = (
    FeatureTransformation("sims", _GA),
    FeatureTransformation("JSON-percentile-filtering", _GA),
    FeatureTransformation("aws-semantic-similarity", _SEMANTIC),
    FeatureTransformation("item-affinity", _AFFINITY),
    FeatureTransformation("item-attribute-affinity", _AFFINITY),
    FeatureTransformation("featurize_metadata", _GA),
    FeatureTransformation("featurize_coldstart", _GA),
)

_CUSTOM = (
    Recipe("aws-user-personalization-v2", USER_PERSONALIZATION, "aws-user-personalization-v2", None,
           "Predicts the items a user will interact with next using a transformer over their interaction history, "
           "with item and user metadata; scales to catalogs of millions of items and explains each pick.", _V2),
    Recipe("aws-user-personalization", USER_PERSONALIZATION, "aws-user-personalization", None,
           "Recommends items for a user from their interaction history, item and user metadata, and explores new "
           "or rarely seen items (explorationWeight) so that cold items get a chance to be recommended.", _UP),
    Recipe("aws-trending-now", POPULAR_ITEMS, "aws-trending-now-custom", None,
           "Recommends the items whose interactions grow fastest between consecutive time intervals "
           "(trend_discovery_frequency); the same list for every user.", _TRENDING),
    Recipe("aws-popularity-count", POPULAR_ITEMS, "aws-popularity-count", "sims",
           "Recommends the items with the most unique users in the interactions data; the same list for every "
           "user. A baseline to compare other recipes against.", _GA),
    Recipe("aws-personalized-ranking-v2", PERSONALIZED_RANKING, "aws-personalized-ranking-v2", None,
           "Ranks a given list of items for a user with the transformer model of User-Personalization-v2.", _V2),
    Recipe("aws-personalized-ranking", PERSONALIZED_RANKING, "aws-personalized-ranking", "JSON-percentile-filtering",
           "Ranks a given list of items (for example search results or a curated collection) by how likely the "
           "user is to interact with each, from their history and item and user metadata.", _GA),
    Recipe("aws-semantic-similarity", RELATED_ITEMS, "aws-semantic-similarity", "aws-semantic-similarity",
           "Recommends items whose name and text description are semantically close to a given item's, "
           "optionally boosted by popularity and freshness; needs no interactions.", _SEMANTIC),
    Recipe("aws-similar-items", RELATED_ITEMS, "aws-similar-items", None,
           "Recommends items similar to a given item from co-occurrence in user histories and item metadata "
           "(including text), so items with few interactions still get similar items.", _SIMILAR),
    Recipe("aws-sims", RELATED_ITEMS, "aws-sims", "sims",
           "Recommends items that users who interacted with a given item also interacted with (item-to-item "
           "co-occurrence with a popularity discount); unknown items get popular items.", _GA),
    Recipe("aws-next-best-action", PERSONALIZED_ACTIONS, "aws-next-best-action", None,
           "Recommends the actions (for example enrolling in a loyalty program) a user is most likely to take "
           "within the action optimization period, from actions and action interactions data.", _NBA),
    Recipe("aws-item-affinity", USER_SEGMENTATION, "aws-item-affinity", "item-affinity",
           "Finds the users most likely to interact with each given item, as segments in a batch segment job.",
           _AFFINITY),
    Recipe("aws-item-attribute-affinity", USER_SEGMENTATION, "aws-item-attribute-affinity",
           "item-attribute-affinity",
           "Finds the users most likely to interact with items having given attribute values (for example "
           "ITEMS.GENRE = \"Comedy\"), as segments in a batch segment job.", _AFFINITY),
    Recipe("aws-hrnn", USER_PERSONALIZATION, "aws-hrnn", "JSON-percentile-filtering",
           "Legacy: hierarchical recurrent network over user interaction sequences. Superseded by "
           "User-Personalization.", _GA, legacy=True),
    Recipe("aws-hrnn-metadata", USER_PERSONALIZATION, "aws-hrnn-metadata", "featurize_metadata",
           "Legacy: HRNN that also uses item and user metadata. Superseded by User-Personalization.", _GA,
           legacy=True),
    Recipe("aws-hrnn-coldstart", USER_PERSONALIZATION, "aws-hrnn-coldstart", "featurize_coldstart",
           "Legacy: HRNN-Metadata with personalized exploration of new (cold) items. Superseded by "
           "User-Personalization.", _GA, legacy=True),
)


def _domain(name: str, domain: str, recipe_type: str, description: str, use_case: UseCase) -> Recipe:
    """A use case runs the model of its base recipe, so it shares that recipe's algorithm and featurization."""
    base = next(r for r in _CUSTOM if r.name == use_case.base)
    return Recipe(name, recipe_type, base.algorithm, base.feature_transformation, description, _DOMAINS,
                  domain=domain, use_case=use_case)


# recipeType per the spec §5.1 ambiguity note: the type that matches each use case's behaviour.
_USE_CASES = (
    _domain("aws-vod-because-you-watched-x", VIDEO_ON_DEMAND, RELATED_ITEMS,
            "Because you watched X: videos similar to one the user watched, from co-watching patterns.",
            UseCase("aws-sims", "Watch", "Watch", needs_user=True, needs_item=True)),
    _domain("aws-vod-more-like-x", VIDEO_ON_DEMAND, RELATED_ITEMS,
            "More like X: videos similar to a given video, from co-watching patterns and video metadata.",
            UseCase("aws-similar-items", None, "Watch", needs_user=True, needs_item=True)),
    _domain("aws-vod-most-popular", VIDEO_ON_DEMAND, POPULAR_ITEMS,
            "Most popular: the videos watched by the most users.",
            UseCase("aws-popularity-count", "Watch", None, needs_user=True, needs_item=False)),
    _domain("aws-vod-trending-now", VIDEO_ON_DEMAND, POPULAR_ITEMS,
            "Trending now: videos whose popularity is rising fastest, re-evaluated every two hours.",
            UseCase("aws-trending-now", None, None, needs_user=False, needs_item=False)),
    _domain("aws-vod-top-picks", VIDEO_ON_DEMAND, USER_PERSONALIZATION,
            "Top picks for you: personalized video recommendations for a user, updated in real time, with "
            "exploration of new videos; videos the user watched are removed.",
            UseCase("aws-user-personalization", None, "Watch", needs_user=True, needs_item=False,
                    exploration=True)),
    _domain("aws-ecomm-popular-items-by-views", ECOMMERCE, POPULAR_ITEMS,
            "Most viewed: the items viewed by the most users.",
            UseCase("aws-popularity-count", "View", None, needs_user=True, needs_item=False)),
    _domain("aws-ecomm-popular-items-by-purchases", ECOMMERCE, POPULAR_ITEMS,
            "Best sellers: the items purchased by the most users.",
            UseCase("aws-popularity-count", "Purchase", None, needs_user=True, needs_item=False)),
    _domain("aws-ecomm-frequently-bought-together", ECOMMERCE, RELATED_ITEMS,
            "Frequently bought together: items customers often purchase together with a given item.",
            UseCase("aws-sims", "Purchase", None, needs_user=False, needs_item=True)),
    _domain("aws-ecomm-customers-who-viewed-x-also-viewed", ECOMMERCE, RELATED_ITEMS,
            "Customers who viewed X also viewed: items viewed by the customers who viewed a given item; items "
            "the user purchased are removed.",
            UseCase("aws-sims", "View", "Purchase", needs_user=True, needs_item=True)),
    _domain("aws-ecomm-recommended-for-you", ECOMMERCE, USER_PERSONALIZATION,
            "Recommended for you: personalized item recommendations for a user, updated in real time, with "
            "exploration of new items; items the user purchased are removed.",
            UseCase("aws-user-personalization", None, "Purchase", needs_user=True, needs_item=False,
                    exploration=True)),
)

RECIPES: dict[str, Recipe] = {r.arn: r for r in (*_CUSTOM, *_USE_CASES)}
ALGORITHMS: dict[str, Algorithm] = {a.arn: a for a in _ALGORITHMS}
FEATURE_TRANSFORMATIONS: dict[str, FeatureTransformation] = {f.arn: f for f in _FEATURE_TRANSFORMATIONS}


# ---- Look-ups and recipe facts ----------------------------------------


def _find(table: Mapping[str, _T], arn: str, what: str) -> _T:
    if arn not in table:
        raise ResourceNotFoundException(f"The {what} {arn} does not exist.")
    return table[arn]


def recipe(arn: str) -> Recipe:
    """The recipe with this ARN, or ResourceNotFoundException."""
    return _find(RECIPES, arn, "recipe")


def algorithm(arn: str) -> Algorithm:
    return _find(ALGORITHMS, arn, "algorithm")


def feature_transformation(arn: str) -> FeatureTransformation:
    return _find(FEATURE_TRANSFORMATIONS, arn, "feature transformation")


def algorithm_of(recipe_arn: str) -> Algorithm:
    return ALGORITHMS[ALGORITHM_PREFIX + recipe(recipe_arn).algorithm]


def recipes_for(domain: str | None) -> list[Recipe]:
    """ListRecipes: one domain's use cases, or every recipe when no domain is given (spec §2.12)."""
    return [r for r in RECIPES.values() if domain is None or r.domain == domain]


def is_domain(arn: str) -> bool:
    """Domain use cases serve recommenders only; CreateSolution rejects them (spec §2.5)."""
    return recipe(arn).domain is not None


def is_legacy(arn: str) -> bool:
    return recipe(arn).legacy


def supports_batch_inference(arn: str) -> bool:
    """Batch inference needs a solution version of a recipe other than Trending-Now, Next-Best-Action and
    USER_SEGMENTATION recipes (those use batch segment jobs) (spec §2.10)."""
    found = recipe(arn)
    return found.domain is None and found.recipe_type not in (PERSONALIZED_ACTIONS, USER_SEGMENTATION) and (
        found.algorithm != "aws-trending-now-custom")


def supports_batch_segment(arn: str) -> bool:
    return recipe(arn).recipe_type == USER_SEGMENTATION


def supports_hpo(arn: str) -> bool:
    """performHPO needs at least one tunable hyperparameter (v2, affinity and NBA recipes have none)."""
    return any(p.tunable for p in algorithm_of(arn).parameters)


def supports_update_training(arn: str) -> bool:
    """trainingMode UPDATE: User-Personalization and legacy HRNN-Coldstart only (spec §2.5)."""
    return recipe(arn).name in ("aws-user-personalization", "aws-hrnn-coldstart")


def supports_incremental_update(arn: str) -> bool:
    """performIncrementalUpdate: Semantic-Similarity only (spec §5.3 ambiguity note)."""
    return recipe(arn).name == "aws-semantic-similarity"


def supports_events_config(arn: str) -> bool:
    """solutionConfig.eventsConfig: the v2 recipes only (spec §2.5)."""
    return recipe(arn).name in ("aws-user-personalization-v2", "aws-personalized-ranking-v2")


def supports_optimization_objective(arn: str) -> bool:
    """solutionConfig.optimizationObjective: User-Personalization and Personalized-Ranking (spec §5.3)."""
    return recipe(arn).name in ("aws-user-personalization", "aws-personalized-ranking")


def runtime_operation(arn: str) -> str | None:
    """The runtime call that serves this recipe's campaigns (None: segmentation serves batch only)."""
    kind = recipe(arn).recipe_type
    if kind == PERSONALIZED_RANKING:
        return "GetPersonalizedRanking"
    if kind == PERSONALIZED_ACTIONS:
        return "GetActionRecommendations"
    return None if kind == USER_SEGMENTATION else "GetRecommendations"


# ---- Derived describe bodies ----------------------------------------


def default_hyperparameters(algo: Algorithm) -> dict[str, str]:
    """DescribeAlgorithm.defaultHyperParameters: the algorithm-scope defaults, as strings."""
    return {p.name: p.default_text() for p in algo.scoped("algorithm")}


def _range(p: HyperParameter, with_tunable: bool) -> tuple[str, dict[str, Any]]:
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


def _ranges(params: Iterable[HyperParameter], with_tunable: bool) -> dict[str, list[dict[str, Any]]]:
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
    return _ranges((p for p in algorithm_of(recipe_arn).scoped("algorithm") if p.tunable), with_tunable=False)


def feature_transformation_defaults(ft: FeatureTransformation) -> dict[str, str]:
    """DescribeFeatureTransformation.defaultParameters: the featurization parameters its algorithms declare."""
    users = {r.algorithm for r in _CUSTOM if r.feature_transformation == ft.name}
    return {p.name: p.default_text() for a in _ALGORITHMS if a.name in users for p in a.scoped("featurization")}


# ---- Validation (CreateSolution, CreateCampaign) ----------------------------------------

_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")  # no nan/inf/underscores


def _parse(p: HyperParameter, text: str) -> Value | None:
    """The typed value, or None when ``text`` is not of the parameter's type."""
    cleaned = text.strip()
    if p.kind == "int":
        return int(cleaned) if _INTEGER.fullmatch(cleaned) else None
    if p.kind == "float":
        number = float(cleaned) if _NUMBER.fullmatch(cleaned) else math.nan
        return number if math.isfinite(number) else None
    if p.kind == "bool":
        return {"true": True, "false": False}.get(cleaned.lower())
    spelled = {v.lower(): v for v in p.values} | {a.lower(): c for a, c in p.aliases}
    return spelled.get(" ".join(cleaned.lower().split()))


def _in_range(p: HyperParameter, value: Value) -> bool:
    if p.kind not in ("int", "float") or isinstance(value, (bool, str)):
        return True
    low = -math.inf if p.low is None else p.low
    return (value > low if p.low_open else value >= low) and (p.high is None or value <= p.high)


def check_value(recipe_arn: str, p: HyperParameter, text: Any, where: str | None = None) -> Value:
    """One wire value (a string) → its typed value, or InvalidInputException naming name, value and rule."""
    value = _parse(p, text) if isinstance(text, str) else None
    if value is None or not _in_range(p, value):
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
    algo = algorithm_of(recipe_arn)
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
    algo = algorithm_of(recipe_arn)
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
