"""Recommenders of domain dataset groups: Create / Describe / List / Update / Delete / Start / Stop (spec §2.7, §6).

A recommender is a domain use case (recipes/use_cases.py, a ``RecipeRecord`` with a ``UseCase``) trained like a solution version of its
base recipe and served like a campaign of it. CreateRecommender records it CREATE PENDING and enqueues
"recommender-create" (jobs/recommender_training.py): train, load the model, then ACTIVE with ``modelMetrics``.
Each training writes a new model under ``<recommenderArn>/<8 hex>`` (``_modelArn``), so a retrained model is
loaded beside the old one and the switch is one write. UpdateRecommender is tracked in
``latestRecommenderUpdate``; only a change of ``trainingDataConfig`` retrains. Stop unloads the model
(INACTIVE serves nothing; a separate API process also refuses it at once and drops the model when idle),
Start loads it again. The scheduler retrains ACTIVE recommenders every 7 days.

The runtime half (``serving_model``, ``check_request``, ``domain_query``) is called by control/runtime.py for
GetRecommendations(recommenderArn=...): per-use-case userId/itemId rules, the automatic removal of items the
user already watched / purchased (serving/domain.py), and no scores (spec §2.14).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import (
    InvalidInputException,
    ResourceAlreadyExistsException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from ..jobs.recommender_training import KIND, use_case_of
from ..recipes import catalogue
from ..serving import domain
from ..serving.models import ServedModel
from ..serving.recommend import Query
from . import arns
from .common import (
    start_deletion,
    ACTIVE,
    check_exploration,
    CREATE_PENDING,
    DELETE_IN_PROGRESS,
    DELETE_PENDING,
    IN_FLIGHT,
    check_quota,
    new_record,
    now,
    paginate,
    pick,
    tags_from,
)
from .context import RequestContext
from .solutions import _check_columns
from ..data.metadata import Record
from ..statuses import INACTIVE, START_PENDING, STOP_PENDING

DELETING = (DELETE_PENDING, DELETE_IN_PROGRESS)
SUMMARY = ("name", "recommenderArn", "datasetGroupArn", "recipeArn", "recommenderConfig", "status",
           "creationDateTime", "lastUpdatedDateTime")
DEFAULT_TPS = 1


def require_recommender(ctx: RequestContext, arn: str) -> Record:
    return ctx.store.require(arn, KIND, "recommender")


# ---- checks ----------------------------------------------------------------------------------------------------


def _check_recipe(group: Record, recipe_arn: str) -> catalogue.RecipeRecord:
    """The recipe must be a use case of the group's domain (spec §6)."""
    group_domain = group.body.get("domain")
    if not group_domain:
        raise InvalidInputException(
            f"Dataset group {group.arn} is a custom dataset group; recommenders need a domain dataset group "
            "(VIDEO_ON_DEMAND or ECOMMERCE). Use CreateSolution and CreateCampaign instead."
        )
    recipe = catalogue.recipe(recipe_arn)
    if recipe.domain != group_domain:
        kind = f"a {recipe.domain} use case" if recipe.domain else "a custom recipe"
        raise InvalidInputException(
            f"recipeArn {recipe_arn} is {kind}; dataset group {group.arn} is {group_domain}: "
            f"use one of its use cases (ListRecipes domain={group_domain})."
        )
    return recipe


def _check_datasets(ctx: RequestContext, group_arn: str, recipe: catalogue.RecipeRecord) -> None:
    """The datasets the use case trains on (spec §6 tables: "Interactions" or "Interactions + Items")."""
    present = {d.body["datasetType"] for d in ctx.store.list("dataset", parent=group_arn)}
    missing = [t for t in recipe.needs.datasets if t not in present]
    if missing:
        raise InvalidInputException(
            f"Use case {recipe.name} needs an {missing[0].title()} dataset; dataset group {group_arn} has none."
        )


def check_config(ctx: RequestContext, group_arn: str, recipe: catalogue.RecipeRecord, config: dict[str, Any]) -> dict[str, Any]:
    """recommenderConfig against spec §2.7; returns it with the defaults Describe shows."""
    exploration = config.get("itemExplorationConfig") or {}
    if exploration and not (recipe.use_case and recipe.use_case.exploration):
        raise InvalidInputException(
            f"recommenderConfig.itemExplorationConfig applies to Top picks for you and Recommended for you only, "
            f"not to {recipe.name}."
        )
    check_exploration("recommenderConfig.itemExplorationConfig", exploration)
    _check_columns(ctx, group_arn, config.get("trainingDataConfig", {}))
    return {"minRecommendationRequestsPerSecond": DEFAULT_TPS, **config}



def _update_in_flight(record: Record) -> str | None:
    status = (record.body.get("latestRecommenderUpdate") or {}).get("status")
    return status if status in IN_FLIGHT else None


# ---- handlers --------------------------------------------------------------------------------------------------


def _check_quota(ctx: RequestContext, group_arn: str) -> None:
    in_group = [r for r in ctx.store.list(KIND, parent=group_arn) if r.status not in DELETING]
    check_quota(ctx, "recommenders_per_group", len(in_group),
                "Cannot create a recommender. Dataset group has {limit} recommenders, the maximum allowed.")


def create_recommender(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateRecommender."""
    group = ctx.store.require(params["datasetGroupArn"], "dataset-group", "dataset group")
    if group.status != ACTIVE:
        raise ResourceInUseException(f"Dataset group {group.arn} is {group.status}; it must be ACTIVE.")
    recipe = _check_recipe(group, params["recipeArn"])
    _check_datasets(ctx, group.arn, recipe)
    config = check_config(ctx, group.arn, recipe, params.get("recommenderConfig", {}))
    arn = arns.arn(ctx, KIND, params["name"])
    if ctx.store.get(arn) is not None:  # the name is taken: say so before any quota (spec §3.1)
        raise ResourceAlreadyExistsException(f"A recommender named {params['name']} already exists: {arn}.")
    body = {
        "name": params["name"],
        "recommenderArn": arn,
        "datasetGroupArn": group.arn,
        "recipeArn": recipe.arn,
        "recommenderConfig": config,
        "status": CREATE_PENDING,
    }
    ctx.store.create_queued(new_record(KIND, arn, params["name"], group.arn, body, tags_from(params)), "recommender-create",
                            lambda: _check_quota(ctx, group.arn))
    ctx.services.nudge()
    return {"recommenderArn": arn}


def describe_recommender(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeRecommender."""
    return {"recommender": require_recommender(ctx, params["recommenderArn"]).body}


def list_recommenders(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListRecommenders, optionally of one dataset group."""
    parent = params.get("datasetGroupArn")
    if parent is not None:
        ctx.store.require(parent, "dataset-group", "dataset group")
    records = ctx.store.list(KIND, parent=parent)
    return paginate(ctx, params, KIND, records, "recommenders", lambda r: pick(r.body, SUMMARY))


def update_recommender(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateRecommender: a new trainingDataConfig retrains; the current model serves until the update is ACTIVE."""
    record = require_recommender(ctx, params["recommenderArn"])
    if record.status != ACTIVE:
        raise ResourceInUseException(f"Recommender {record.arn} is {record.status}; it must be ACTIVE to update.")
    pending = _update_in_flight(record)
    if pending:
        raise ResourceInUseException(f"Recommender {record.arn} already has an update {pending}.")
    recipe = catalogue.recipe(record.body["recipeArn"])
    config = check_config(ctx, record.parent or "", recipe, params["recommenderConfig"])
    retrain = config.get("trainingDataConfig", {}) != record.body["recommenderConfig"].get("trainingDataConfig", {})
    stamp = now()
    update = {"recommenderConfig": config, "status": CREATE_PENDING, "creationDateTime": stamp, "lastUpdatedDateTime": stamp}
    ctx.store.update(record.arn, {"latestRecommenderUpdate": update})
    ctx.store.enqueue("recommender-update", record.arn, {"retrain": retrain})
    ctx.services.nudge()
    return {"recommenderArn": record.arn}


def delete_recommender(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteRecommender: asynchronous; its models are removed with it."""
    record = require_recommender(ctx, params["recommenderArn"])
    if record.status in DELETING:
        raise ResourceInUseException(f"Recommender {record.arn} is already being deleted ({record.status}).")
    start_deletion(ctx, record.arn, job="recommender-delete", changes={"modelMetrics": None})
    ctx.services.nudge()
    return {}


def stop_recommender(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """StopRecommender: ACTIVE → STOP PENDING → STOP IN_PROGRESS → INACTIVE (serves nothing, costs nothing)."""
    return _transition(ctx, params["recommenderArn"], ACTIVE, STOP_PENDING, "recommender-stop")


def start_recommender(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """StartRecommender: INACTIVE → START PENDING → START IN_PROGRESS → ACTIVE."""
    return _transition(ctx, params["recommenderArn"], INACTIVE, START_PENDING, "recommender-start")


def _transition(ctx: RequestContext, arn: str, required: str, pending: str, job_kind: str) -> dict[str, Any]:
    record = require_recommender(ctx, arn)
    update = _update_in_flight(record)
    if update:
        raise ResourceInUseException(f"Recommender {arn} has an update {update}; try again once it ends.")
    if ctx.store.update_if(arn, (required,), {"status": pending}) is None:
        current = require_recommender(ctx, arn).status
        raise ResourceInUseException(f"Recommender {arn} is {current}; it must be {required} for this operation.")
    ctx.store.enqueue(job_kind, arn)
    ctx.services.nudge()
    return {"recommenderArn": arn}


# ---- runtime (GetRecommendations with recommenderArn) ----------------------------------------------------------


def serving_model(ctx: RequestContext, record: Record | None, arn: str) -> tuple[Record, ServedModel]:
    """The model an ACTIVE recommender serves; INACTIVE and in-between states serve nothing (spec §2.7)."""
    if record is None or record.status in DELETING:
        raise ResourceNotFoundException(f"Could not find recommender with ARN {arn}.")
    if record.status != ACTIVE:
        raise InvalidInputException(f"Recommender {arn} is {record.status}; it must be ACTIVE to serve requests.")
    return record, ctx.services.serving.models.get(record.body["_modelArn"])


def check_request(record: Record, params: dict[str, Any]) -> None:
    """userId / itemId as the use case requires (spec §6 tables); a missing one is InvalidInput."""
    use_case = use_case_of(record)
    name = catalogue.recipe(record.body["recipeArn"]).name
    if use_case.needs_user and "userId" not in params:
        raise InvalidInputException(f"userId is required for a recommender of use case {name}.")
    if use_case.needs_item and "itemId" not in params:
        raise InvalidInputException(f"itemId is required for a recommender of use case {name}.")


def domain_query(record: Record, model: ServedModel, query: Query) -> Query:
    """No scores for domain recommenders; the automatic filter of watched/purchased items goes first."""
    use_case = use_case_of(record)
    mask = query.mask
    if use_case.filter_event_type is not None and query.user_id is not None:
        mask = domain.exclude_interacted(model.history.get(query.user_id), use_case.filter_event_type, model.history.latest_timestamp, mask)
    exploration = query.exploration_weight if use_case.exploration else 0.0
    return dataclasses.replace(query, mask=mask, with_scores=False, with_reasons=False, exploration_weight=exploration)

