"""Recommender jobs: train a use case's base recipe, and the create / update / stop / start / delete transitions.

Training reuses jobs/training.py's steps exactly as a solution version does (load the group's datasets with
``trainingDataConfig``, the spec §4.8 minimums, Personalize's split and metrics, ``Recipe.save``), after
keeping only the use case's required event type (case-insensitive, spec §6). Each training writes a new model
``<recommenderArn>/<8 hex>``; the job proves it loads before the record points at it, so a recommender never
answers from a broken model (serving loads it on the first request), and the previous model's files are
removed after the switch. Weekly retraining (spec §3.4) is ``retrain_due``, called by the scheduler with an explicit ``now``.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

import polars as pl

from ..statuses import (ACTIVE, CREATE_FAILED, CREATE_IN_PROGRESS, CREATE_PENDING, DELETE_IN_PROGRESS, DELETE_PENDING, IN_FLIGHT,
                        INACTIVE, START_IN_PROGRESS, START_PENDING, STOP_IN_PROGRESS, STOP_PENDING)
from ..services import Services
from ..data.metadata import Job, Record
from ..evaluation.split import split_users
from ..recipes import catalogue
from ..recipes.base import Recipe, TrainingData
from . import training
from .base import JobFailed, Progress

log = logging.getLogger("openpersonalize.recommenders")
KIND = "recommender"
MIN_TYPED_INTERACTIONS = 1000  # spec §6: "≥1000 `Watch`" and the like


def use_case_of(record: Record) -> catalogue.UseCase:
    use_case = catalogue.recipe(record.body["recipeArn"]).use_case
    if use_case is None:  # CreateRecommender only records domain use cases
        raise LookupError(f"Recipe {record.body['recipeArn']} is not a domain use case.")
    return use_case


def failed_update(record: Record, reason: str) -> dict[str, Any]:
    """The changes that record a failed update: the recommender keeps serving its current model."""
    update = record.body.get("latestRecommenderUpdate") or {}
    return {"latestRecommenderUpdate": {**update, "status": CREATE_FAILED, "failureReason": reason, "lastUpdatedDateTime": time.time()}}


# ---- training ---------------------------------------------------------------------------------------------------


def select_event_type(interactions: pl.DataFrame, event_type: str | None) -> pl.DataFrame:
    """The use case's required event type, matched case-insensitively; all events when it has none."""
    if event_type is None:
        return interactions
    if "EVENT_TYPE" not in interactions.columns:
        return interactions.clear()
    return interactions.filter(pl.col("EVENT_TYPE").cast(pl.String).str.to_lowercase() == event_type.lower())


def check_use_case_minimum(interactions: pl.DataFrame, event_type: str | None, *, relaxed: bool) -> None:
    """Spec §2.7/§6: fewer than 1000 events of the required type fails the recommender (relaxed: none at all)."""
    if event_type is None:
        return
    minimum = 1 if relaxed else MIN_TYPED_INTERACTIONS
    if interactions.height < minimum:
        raise JobFailed(
            f"Dataset has fewer than {MIN_TYPED_INTERACTIONS} interactions after filtering by event type: {event_type} "
            f"(found {interactions.height})."
        )


def train_model(services: Services, record: Record, config: dict[str, Any], progress: Progress) -> tuple[str, dict[str, float]]:
    """Fit the use case's base recipe on the group's data; returns (model ARN, modelMetrics). Reports the data
    read (0.05), the fit and evaluation done (0.9) and the model saved (0.95); loading it for serving follows."""
    use_case = use_case_of(record)
    base_arn = use_case.base.arn
    relaxed = services.settings.relaxed_minimums
    frames = training._load(services, record.body["datasetGroupArn"], config.get("trainingDataConfig", {}))
    interactions = select_event_type(frames.interactions, use_case.required_event_type)
    check_use_case_minimum(interactions, use_case.required_event_type, relaxed=relaxed)
    # the use case's needs (More like X and Top picks need Items data) include its base recipe's
    training.check_recipe_data(record.body["recipeArn"], frames, interactions, relaxed=relaxed)
    if not relaxed:
        training.check_minimums(interactions)
    data = TrainingData.from_frames(interactions, frames.items, frames.users,
                                    item_roles=training.item_roles(frames.schemas.get("ITEMS")))
    progress(0.05)
    model = training._recipe(base_arn, {}, {})
    evaluation = training._evaluate(base_arn, model, data, frames, split_users(data, seed=training.SEED))
    progress(0.9)
    metrics = dict(evaluation.metrics)  # Trending-Now's trend accuracy included (training._evaluate)
    model_arn = f"{record.arn}/{secrets.token_hex(4)}"
    with services.data.artifacts.publishing(model_arn) as folder:
        model.save(folder)
    progress(0.95)
    return model_arn, {k: round(float(v), 4) for k, v in metrics.items()}


def _load(services: Services, model_arn: str) -> None:
    """Prove the published model loads; serving loads it on the recommender's first request."""
    try:
        Recipe.load(services.data.artifacts.local(model_arn))
    except (OSError, LookupError, ValueError) as exc:
        raise JobFailed(f"The model could not be loaded: {exc}") from exc


def _discard(services: Services, model_arn: str | None) -> None:
    """Remove a replaced model's files (a serving process still holding it drops it when idle)."""
    if model_arn:
        services.data.artifacts.delete(model_arn)


# ---- jobs -------------------------------------------------------------------------------------------------------


def create(services: Services, job: Job, progress: Progress) -> None:
    """The "recommender-create" job: train, load, then ACTIVE with modelMetrics (else CREATE FAILED)."""
    record = services.store.get(job.arn, KIND)
    if record is None or services.store.update_if(job.arn, IN_FLIGHT, {"status": CREATE_IN_PROGRESS}) is None:
        return  # deleted before it started
    try:
        model_arn, metrics = train_model(services, record, record.body["recommenderConfig"], progress)
        _load(services, model_arn)
    except JobFailed as failure:
        # Conditional (not the worker's mark_failed): a DeleteRecommender meanwhile must stay DELETE PENDING.
        reason = f"Create failed. {str(failure).removeprefix('Create failed. ')}"
        services.store.update_if(job.arn, (CREATE_IN_PROGRESS,), {"status": CREATE_FAILED, "failureReason": reason})
        return
    changes = {"status": ACTIVE, "_modelArn": model_arn, "modelMetrics": metrics, "_trainedAt": time.time(), "failureReason": None}
    if services.store.update_if(job.arn, (CREATE_IN_PROGRESS,), changes) is None:
        _discard(services, model_arn)  # deleted while training
    services.record_changed(job.arn)


def update(services: Services, job: Job, progress: Progress) -> None:
    """The "recommender-update" job (UpdateRecommender, or a scheduled retraining with no update summary).

    The current model serves until the new config (and, when retraining, the new model) is in place; a
    failure is recorded in ``latestRecommenderUpdate`` and the recommender stays as it was.
    """
    record = services.store.get(job.arn, KIND)
    if record is None or record.status != ACTIVE:
        return
    summary = record.body.get("latestRecommenderUpdate") or {}
    scheduled = bool(job.payload.get("scheduled"))
    config = record.body["recommenderConfig"] if scheduled else summary.get("recommenderConfig", record.body["recommenderConfig"])
    if not scheduled:
        services.store.update(job.arn, {"latestRecommenderUpdate": {**summary, "status": CREATE_IN_PROGRESS, "lastUpdatedDateTime": time.time()}})
    changes: dict[str, Any] = {"recommenderConfig": config}
    try:
        if scheduled or job.payload.get("retrain"):
            model_arn, metrics = train_model(services, record, config, progress)
            changes["_modelArn"] = model_arn
            _load(services, model_arn)
            changes.update({"modelMetrics": metrics, "_trainedAt": time.time()})
    except JobFailed as failure:
        _discard(services, changes.get("_modelArn"))
        log.warning("update of recommender %s failed: %s", job.arn, failure)
        if not scheduled:
            current = services.store.get(job.arn, KIND)
            if current is not None:
                services.store.update(job.arn, failed_update(current, str(failure)))
        return
    if not scheduled:
        changes["latestRecommenderUpdate"] = {**summary, "recommenderConfig": config, "status": ACTIVE, "lastUpdatedDateTime": time.time()}
    if services.store.update_if(job.arn, (ACTIVE,), changes) is None:
        _discard(services, changes.get("_modelArn"))  # stopped or deleted meanwhile: keep its model as it was
        return
    if "_modelArn" in changes:
        _discard(services, record.body.get("_modelArn"))
    services.record_changed(job.arn)


def stop(services: Services, job: Job, progress: Progress) -> None:
    """The "recommender-stop" job: STOP IN_PROGRESS, unload the model, INACTIVE (nothing served)."""
    record = services.store.update_if(job.arn, (STOP_PENDING,), {"status": STOP_IN_PROGRESS})
    if record is None:
        return
    services.record_changed(job.arn)
    services.store.update_if(job.arn, (STOP_IN_PROGRESS,), {"status": INACTIVE})
    services.record_changed(job.arn)


def start(services: Services, job: Job, progress: Progress) -> None:
    """The "recommender-start" job: START IN_PROGRESS, load the model, ACTIVE."""
    record = services.store.update_if(job.arn, (START_PENDING,), {"status": START_IN_PROGRESS})
    if record is None:
        return
    _load(services, record.body["_modelArn"])
    # The 7-day retraining clock runs while ACTIVE only (spec §3.4): restart it.
    services.store.update_if(job.arn, (START_IN_PROGRESS,), {"status": ACTIVE, "failureReason": None, "_trainedAt": time.time()})
    services.record_changed(job.arn)


def delete(services: Services, job: Job, progress: Progress) -> None:
    """The "recommender-delete" job: DELETE IN_PROGRESS, unload and remove every model, then the record."""
    record = services.store.update_if(job.arn, (DELETE_PENDING,), {"status": DELETE_IN_PROGRESS})
    if record is None:
        return
    services.record_changed(job.arn)
    _discard(services, record.body.get("_modelArn"))  # older models were removed when each was replaced
    services.store.remove(job.arn)


# ---- weekly retraining ------------------------------------------------------------------------------------------


def retrain_due(services: Services, now: float, interval: float | None = None) -> list[str]:
    """Enqueue a retraining of each ACTIVE recommender trained ``interval`` ago or more; returns their ARNs."""
    interval = services.settings.recommender_retrain_days * 86400.0 if interval is None else interval
    started = []
    for record in services.store.list(KIND, statuses=(ACTIVE,)):
        pending = (record.body.get("latestRecommenderUpdate") or {}).get("status")
        if pending in (CREATE_PENDING, CREATE_IN_PROGRESS) or now < record.body.get("_trainedAt", record.created) + interval:
            continue
        # The clock restarts when the retraining is queued, so the next tick does not queue it again.
        services.store.update(record.arn, {"_trainedAt": now})
        services.store.enqueue("recommender-update", record.arn, {"scheduled": True})
        started.append(record.arn)
    if started:
        services.nudge()
    return started
