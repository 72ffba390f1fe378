"""Solutions: CreateSolution / DescribeSolution / ListSolutions / UpdateSolution / DeleteSolution (spec §2.5).

A solution is a recipe plus its configuration, checked here once so that training never starts from a
configuration that cannot work. Versions (the trained models) live in solution_versions.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import InvalidInputException, ResourceInUseException
from ..recipes.metrics import metric_keys
from ..recipes import catalogue, registry
from . import arns
from .common import (
    start_deletion,
    ACTIVE,
    CREATE_PENDING,
    DELETE_PENDING,
    IN_FLIGHT,
    check_quota,
    now,
    new_record,
    paginate,
    pick,
    tags_from,
)
from .context import RequestContext, Services
from .dataset_groups import require_active_group
from .filters import group_schemas
from ..data.metadata import Job, Record
from ..data.schema import TRAINING_COLUMNS

KIND = "solution"
VERSION_KIND = "solution-version"
SUMMARY = ("name", "solutionArn", "status", "creationDateTime", "lastUpdatedDateTime", "recipeArn")
VERSION_SUMMARY = (
    "solutionVersionArn", "status", "trainingMode", "trainingType", "creationDateTime", "lastUpdatedDateTime",
    "failureReason",
)
MAX_AUTO_TRAINING_DAYS = 30  # spec §1.6: rate(N days), N in 1..30
NUMERIC = ("int", "long", "float", "double")
_INCREMENTAL = catalogue.names_of(lambda r: r.capabilities.incremental_update)


def require_solution(ctx: RequestContext, arn: str) -> Record:
    return ctx.store.require(arn, KIND, "solution")


def _check_recipe(params: dict[str, Any]) -> str:
    """The recipe ARN to train: exactly one of recipeArn / performAutoML (spec §2.5)."""
    automl = params.get("performAutoML", False)
    if automl == ("recipeArn" in params):
        raise InvalidInputException("Give exactly one of recipeArn or performAutoML=true.")
    if automl:
        return _check_automl(params.get("solutionConfig", {}).get("autoMLConfig", {}))
    recipe_arn = params["recipeArn"]
    recipe = catalogue.recipe(recipe_arn)
    if recipe.domain is not None:
        raise InvalidInputException(
            f"Recipe {recipe_arn} is a {recipe.domain} use case: use it with CreateRecommender, not CreateSolution."
        )
    if recipe.legacy:
        raise InvalidInputException(
            f"Recipe {recipe_arn} is a legacy recipe no longer available for new solutions; "
            "use arn:aws:personalize:::recipe/aws-user-personalization-v2."
        )
    if not registry.is_implemented(recipe_arn):
        raise InvalidInputException(f"Recipe {recipe_arn} is not available yet in this OpenPersonalize release.")
    return recipe_arn


def _check_automl(config: dict[str, Any]) -> str:
    """AutoML compares USER_PERSONALIZATION recipes; the first listed stands until a version picks the best."""
    recipe_list = config.get("recipeList") or []
    if not recipe_list:
        raise InvalidInputException("performAutoML needs solutionConfig.autoMLConfig.recipeList with at least one recipe.")
    for arn in recipe_list:
        if catalogue.recipe(arn).recipe_type != catalogue.USER_PERSONALIZATION:
            raise InvalidInputException(
                f"autoMLConfig.recipeList contains {arn}, which is not a USER_PERSONALIZATION recipe."
            )
        if not registry.is_implemented(arn):
            raise InvalidInputException(f"autoMLConfig.recipeList contains {arn}, which is not available yet in this OpenPersonalize release.")
    metric = config.get("metricName")
    if metric is not None and metric not in metric_keys():
        raise InvalidInputException(f"autoMLConfig.metricName {metric!r} is not a metric; use one of {', '.join(metric_keys())}.")
    return str(recipe_list[0])


def _check_flags(params: dict[str, Any], recipe_arn: str) -> None:
    record = catalogue.recipe(recipe_arn)
    if params.get("performHPO") and not record.hpo:
        raise InvalidInputException(f"performHPO is not supported by recipe {recipe_arn}: it has no tunable hyperparameters.")
    if params.get("performIncrementalUpdate") and not record.capabilities.incremental_update:
        raise InvalidInputException(
            f"performIncrementalUpdate is only supported by {_INCREMENTAL}, not {recipe_arn}."
        )


def _check_config(ctx: RequestContext, group_arn: str, recipe_arn: str, params: dict[str, Any]) -> None:
    """Every part of solutionConfig against the recipe and the group's schemas."""
    config = params.get("solutionConfig", {})
    catalogue.validate_hyperparameters(
        recipe_arn, config.get("algorithmHyperParameters", {}), config.get("featureTransformationParameters", {})
    )
    if "hpoConfig" in config:
        if not params.get("performHPO"):
            raise InvalidInputException("solutionConfig.hpoConfig is only used with performHPO=true.")
        catalogue.validate_hpo_ranges(recipe_arn, config["hpoConfig"].get("algorithmHyperParameterRanges", {}))
    _check_resource_config(config.get("hpoConfig", {}).get("hpoResourceConfig", {}))
    if "eventValueThreshold" in config:
        _number("solutionConfig.eventValueThreshold", config["eventValueThreshold"])
    if "eventsConfig" in config and not catalogue.recipe(recipe_arn).capabilities.events_config:
        raise InvalidInputException(f"solutionConfig.eventsConfig is only supported by the v2 recipes, not {recipe_arn}.")
    check_auto_training(config.get("autoTrainingConfig"))
    if "optimizationObjective" in config:
        _check_objective(ctx, group_arn, recipe_arn, config["optimizationObjective"])
    _check_columns(ctx, group_arn, config.get("trainingDataConfig", {}))


def _number(field: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidInputException(f"{field} must be a number; got {text!r}.") from None


def _check_resource_config(config: dict[str, Any]) -> None:
    limits = {"maxNumberOfTrainingJobs": 40, "maxParallelTrainingJobs": 10}  # spec §5.2
    for key, limit in limits.items():
        if key in config:
            value = _number(f"hpoConfig.hpoResourceConfig.{key}", config[key])
            if not value.is_integer() or not 1 <= value <= limit:
                raise InvalidInputException(
                    f"hpoConfig.hpoResourceConfig.{key} must be a whole number from 1 to {limit}; got {config[key]!r}."
                )


def check_auto_training(config: dict[str, Any] | None) -> None:
    """``rate(N days)`` with N from 1 to 30 (the pattern itself is checked on the wire)."""
    if not config or "schedulingExpression" not in config:
        return
    expression = config["schedulingExpression"]
    days = int("".join(c for c in expression if c.isdigit()) or 0)
    if not 1 <= days <= MAX_AUTO_TRAINING_DAYS:
        raise InvalidInputException(
            f"autoTrainingConfig.schedulingExpression {expression!r} must be rate(N days) with N from 1 to {MAX_AUTO_TRAINING_DAYS}."
        )


def _check_objective(ctx: RequestContext, group_arn: str, recipe_arn: str, objective: dict[str, Any]) -> None:
    if not catalogue.recipe(recipe_arn).capabilities.optimization_objective:
        raise InvalidInputException(
            f"solutionConfig.optimizationObjective is only supported by User-Personalization and Personalized-Ranking, not {recipe_arn}."
        )
    if "itemAttribute" not in objective:
        return
    items = group_schemas(ctx, group_arn).get("ITEMS")
    column = objective["itemAttribute"]
    field = items.field(column) if items else None
    if field is None or field.type not in NUMERIC or field.nullable:
        raise InvalidInputException(
            f"optimizationObjective.itemAttribute {column!r} must be a numeric, non-nullable column of the group's Items dataset."
        )


def _check_columns(ctx: RequestContext, group_arn: str, config: dict[str, Any]) -> None:
    """trainingDataConfig names datasets of the group and columns of their schemas."""
    schemas = group_schemas(ctx, group_arn)
    for key in ("excludedDatasetColumns", "includedDatasetColumns"):
        for dataset_type, columns in config.get(key, {}).items():
            schema = schemas.get(dataset_type.upper())
            if schema is None:
                raise InvalidInputException(f"trainingDataConfig.{key} names {dataset_type!r}, which is not a dataset of the group.")
            unknown = [c for c in columns if schema.field(c) is None]
            if unknown:
                raise InvalidInputException(
                    f"trainingDataConfig.{key}.{dataset_type} names columns not in its schema: {', '.join(unknown)}."
                )
            needed = sorted(set(columns) & TRAINING_COLUMNS) if key == "excludedDatasetColumns" else []
            if needed:
                raise InvalidInputException(
                    f"trainingDataConfig.excludedDatasetColumns.{dataset_type} names {', '.join(needed)}; ids, "
                    "TIMESTAMP, EVENT_TYPE and EVENT_VALUE are always used in training and cannot be excluded."
                )


def create_solution(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateSolution."""
    group = require_active_group(ctx, params["datasetGroupArn"])
    recipe_arn = _check_recipe(params)
    _check_flags(params, recipe_arn)
    _check_config(ctx, group.arn, recipe_arn, params)
    arn = arns.arn(ctx, KIND, params["name"])
    body = {
        "name": params["name"],
        "solutionArn": arn,
        "datasetGroupArn": group.arn,
        "recipeArn": recipe_arn,
        "performHPO": params.get("performHPO", False),
        "performAutoML": params.get("performAutoML", False),
        # Automatic training is on by default (spec §12 item 8).
        "performAutoTraining": params.get("performAutoTraining", True),
        "performIncrementalUpdate": params.get("performIncrementalUpdate", False),
        "solutionConfig": params.get("solutionConfig", {}),
        "status": CREATE_PENDING,
        **pick(params, ("eventType",)),
    }
    ctx.store.create_queued(new_record(KIND, arn, params["name"], group.arn, body, tags_from(params)), "activate",
                            lambda: check_quota(
                                ctx, "active_solutions_per_group",
                                ctx.store.count(KIND, parent=group.arn, statuses=(*IN_FLIGHT, ACTIVE)),
                                "Cannot create a solution. More than {limit} resources in ACTIVE state."))
    ctx.services.nudge()
    return {"solutionArn": arn}


def _with_latest_version(ctx: RequestContext, record: Record) -> dict[str, Any]:
    versions = ctx.store.list(VERSION_KIND, parent=record.arn)
    body = dict(record.body)
    if versions:
        body["latestSolutionVersion"] = pick(versions[0].body, VERSION_SUMMARY)
    return body


def describe_solution(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeSolution."""
    return {"solution": _with_latest_version(ctx, require_solution(ctx, params["solutionArn"]))}


def list_solutions(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListSolutions."""
    records = ctx.store.list(KIND, parent=params.get("datasetGroupArn"))
    return paginate(ctx, params, KIND, records, "solutions", lambda r: pick(r.body, SUMMARY))


def update_solution(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateSolution: recorded in latestSolutionUpdate, applied by the worker."""
    record = require_solution(ctx, params["solutionArn"])
    if record.status != ACTIVE:
        raise ResourceInUseException(f"Solution {record.arn} is {record.status}; it must be ACTIVE to update.")
    pending = record.body.get("latestSolutionUpdate", {}).get("status")
    if pending in IN_FLIGHT:
        raise ResourceInUseException(f"Solution {record.arn} already has an update {pending}.")
    recipe_arn = record.body["recipeArn"]
    update_config = params.get("solutionUpdateConfig", {})
    capabilities = catalogue.recipe(recipe_arn).capabilities
    if params.get("performIncrementalUpdate") and not capabilities.incremental_update:
        raise InvalidInputException(f"performIncrementalUpdate is only supported by {_INCREMENTAL}, not {recipe_arn}.")
    if "eventsConfig" in update_config and not capabilities.events_config:
        raise InvalidInputException(f"solutionUpdateConfig.eventsConfig is only supported by the v2 recipes, not {recipe_arn}.")
    check_auto_training(update_config.get("autoTrainingConfig"))
    summary = {
        "status": CREATE_PENDING,
        "solutionUpdateConfig": update_config,
        **pick(params, ("performAutoTraining", "performIncrementalUpdate")),
    }
    ctx.store.update(record.arn, {"latestSolutionUpdate": {**summary, "creationDateTime": now(), "lastUpdatedDateTime": now()}})
    ctx.store.enqueue("solution-update", record.arn)
    ctx.services.nudge()
    return {"solutionArn": record.arn}


def delete_solution(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteSolution: also deletes its versions; refused while campaigns use it or a version trains."""
    record = require_solution(ctx, params["solutionArn"])
    if record.status == DELETE_PENDING:
        raise ResourceInUseException(f"Solution {record.arn} is already being deleted.")
    training = [v.arn for v in ctx.store.list(VERSION_KIND, parent=record.arn, statuses=IN_FLIGHT)]
    if training:
        raise ResourceInUseException(f"Solution {record.arn} has a solution version in progress: {training[0]}.")
    campaigns = [c.arn for c in ctx.store.list("campaign") if c.body.get("solutionVersionArn", "").startswith(record.arn + "/")]
    if campaigns:
        raise ResourceInUseException(f"Solution {record.arn} is used by campaign {campaigns[0]}; delete the campaign first.")
    start_deletion(ctx, record.arn, payload={"cleanup": "solution"})
    ctx.services.nudge()
    return {}



def finish_update(services: Services, job: Job, progress: Callable[[float], None]) -> None:
    """The "solution-update" job: the recorded UpdateSolution takes effect."""
    record = services.store.get(job.arn, KIND)
    update = (record.body.get("latestSolutionUpdate") or {}) if record else {}
    if record is None or update.get("status") not in IN_FLIGHT:
        return  # deleted meanwhile, or already applied
    config = dict(record.body.get("solutionConfig", {}))
    config.update(update.get("solutionUpdateConfig", {}))
    flags = pick(update, ("performAutoTraining", "performIncrementalUpdate"))
    done = {**update, "status": ACTIVE, "lastUpdatedDateTime": now()}
    services.store.update(job.arn, {"solutionConfig": config, **flags, "latestSolutionUpdate": done})
