"""The record of a recipe: what Amazon Personalize publishes about it and what the service may do with it.

One :class:`RecipeRecord` per recipe ARN, declared beside the model class that trains it (DESIGN.md §2: "one
record per recipe"). Its algorithm carries the hyperparameters (declared once, ``_params.py``); its
:class:`Capabilities` are the recipe's tags, in the spirit of scikit-learn's estimator tags: control and jobs
ask them instead of testing a recipe's name or class. Domain use cases are records configured from a base
recipe (:meth:`RecipeRecord.use_case`). Names, dates, defaults and ranges follow the Developer Guide recipe
pages (spec §5, §6).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from ._params import HyperParameter, Scope

if TYPE_CHECKING:
    from .base import Recipe

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

# How a trained version is scored (spec §9.1): "user" recommends for held-out users, "ranking" re-ranks their
# relevant items among candidates, "related" answers for their newest item, "trending" is "user" plus the
# trend prediction accuracy (§9.2), the segment protocols split each user 80/20, "actions" holds out action users.
EvaluationProtocol = Literal["user", "ranking", "related", "trending", "item-segments", "attribute-segments", "actions"]
_RUNTIME = {PERSONALIZED_RANKING: "GetPersonalizedRanking", PERSONALIZED_ACTIONS: "GetActionRecommendations",
            USER_SEGMENTATION: None}


def runtime_operation(recipe_type: str) -> str | None:
    """The runtime call that serves campaigns of this recipe type (None: segmentation serves batch only)."""
    return _RUNTIME.get(recipe_type, "GetRecommendations")


def launched(day: str) -> float:
    """Fixed catalogue timestamps (about each recipe's public launch), so every response is stable."""
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp()


GA, DOMAINS = launched("2019-06-10"), launched("2021-11-29")


@dataclass(frozen=True)
class Algorithm:
    """An algorithm: the model family a recipe trains, with its declared hyperparameters."""

    name: str
    image: str  # algorithmImage.name: what the model is
    parameters: tuple[HyperParameter[Any], ...]
    created: float

    @property
    def arn(self) -> str:
        return ALGORITHM_PREFIX + self.name

    def scoped(self, scope: Scope) -> tuple[HyperParameter[Any], ...]:
        return tuple(p for p in self.parameters if p.scope == scope)

    def parameter(self, name: str) -> HyperParameter[Any] | None:
        return next((p for p in self.parameters if p.name == name), None)


@dataclass(frozen=True)
class FeatureTransformation:
    name: str
    created: float

    @property
    def arn(self) -> str:
        return FEATURE_TRANSFORMATION_PREFIX + self.name


# Featurizations shared by several recipes (the others are declared beside their recipe).
SIMS_FEATURIZATION = FeatureTransformation("sims", GA)
PERCENTILE_FILTERING = FeatureTransformation("JSON-percentile-filtering", GA)


@dataclass(frozen=True)
class DataNeeds:
    """The data a recipe trains on (spec §4.8); without INTERACTIONS the general minimums do not apply."""

    datasets: tuple[str, ...] = ("INTERACTIONS",)  # dataset types the dataset group must have
    item_fields: tuple[str, ...] = ()  # Items schema field flags that must be present (``item_name``, ``textual``)
    min_unique_interactions: int = 0  # distinct (user, item, time) rows besides the general minimums


@dataclass(frozen=True)
class Capabilities:
    """What a recipe supports (spec §2.5, §2.10, §5.3); read by control and jobs, never inferred from a name."""

    evaluation: EvaluationProtocol = "user"
    update_training: bool = False  # trainingMode UPDATE
    auto_update: bool = False  # the automatic updates of spec §3.4 (the model is refreshed in place)
    incremental_update: bool = False  # performIncrementalUpdate (Semantic-Similarity)
    batch_inference: bool = True
    segments: Literal["items", "attributes"] | None = None  # what a batch segment job's input lines query
    events_config: bool = False  # solutionConfig.eventsConfig (the v2 recipes)
    optimization_objective: bool = False  # solutionConfig.optimizationObjective
    exploration: bool = False  # itemExplorationConfig on campaigns and batch inference jobs
    ranking_influence: bool = False  # campaignConfig / batchInferenceJobConfig rankingInfluence
    reasons: bool = False  # answers carry reasons, and metadataColumns need no campaign switch (v2, semantic)


@dataclass(frozen=True)
class UseCase:
    """What a domain use case adds to the recipe it is built on (spec §6)."""

    base: RecipeRecord  # the custom recipe whose model serves it
    required_event_type: str | None  # ≥1000 interactions of this type (case-insensitive), else any type
    filter_event_type: str | None  # items the user already interacted with this way are removed
    needs_user: bool  # GetRecommendations requires userId
    needs_item: bool  # GetRecommendations requires itemId
    exploration: bool = False


@dataclass(frozen=True)
class RecipeRecord:
    """One recipe ARN: the catalogue entry, the model class that trains it (None: not offered for training) and
    its capabilities."""

    name: str
    recipe_type: str
    algorithm: Algorithm
    feature_transformation: FeatureTransformation | None
    description: str
    created: float
    model: type[Recipe] | None
    capabilities: Capabilities = Capabilities()
    needs: DataNeeds = DataNeeds()
    domain: str | None = None
    legacy: bool = False
    use_case: UseCase | None = field(default=None)

    @property
    def arn(self) -> str:
        return RECIPE_PREFIX + self.name

    @property
    def title(self) -> str:
        """The recipe's name as error messages spell it: ``aws-next-best-action`` → ``Next-Best-Action``."""
        return "-".join(word.capitalize() for word in self.name.removeprefix("aws-").split("-"))

    @property
    def runtime_operation(self) -> str | None:
        return runtime_operation(self.recipe_type)

    @property
    def hpo(self) -> bool:
        """performHPO needs at least one tunable hyperparameter (v2, affinity and NBA recipes have none)."""
        return any(p.tunable for p in self.algorithm.parameters)

    @property
    def serving_recipe(self) -> RecipeRecord:
        """The record whose model serves this one: a use case's base recipe, else itself."""
        return self.use_case.base if self.use_case is not None else self

    def configure(self, name: str, domain: str, recipe_type: str, description: str, *,
                  required_event_type: str | None, filter_event_type: str | None, needs_user: bool,
                  needs_item: bool, exploration: bool = False, datasets: tuple[str, ...] | None = None) -> RecipeRecord:
        """A domain use case served by this recipe's model (so with its algorithm and featurization). Use cases
        serve recommenders only (spec §6): none of the solution capabilities, no batch jobs; evaluated like the base."""
        use_case = UseCase(self, required_event_type, filter_event_type, needs_user, needs_item, exploration)
        return replace(self, name=name, domain=domain, recipe_type=recipe_type, description=description,
                       created=DOMAINS, use_case=use_case,
                       needs=replace(self.needs, datasets=datasets or self.needs.datasets),
                       capabilities=Capabilities(self.capabilities.evaluation, batch_inference=False,
                                                 exploration=exploration))
