"""Solution versions: CreateSolutionVersion / Describe / List / Stop, and GetSolutionMetrics (spec §2.5).

Creating a version records it and enqueues a "train" job; the worker trains, evaluates with Personalize's
protocol and writes the metrics back. A trainingMode UPDATE version refreshes the newest ACTIVE model instead
(jobs/updates.py) and reports that model's metrics: it learnt nothing new to evaluate. Stopping is cooperative: the trainer checks the status between epochs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import InvalidInputException, ResourceInUseException
from ..recipes import catalogue
from . import arns
from .common import (
    ACTIVE,
    CREATE_IN_PROGRESS,
    CREATE_PENDING,
    CREATE_STOPPED,
    CREATE_STOPPING,
    IN_FLIGHT,
    check_quota,
    new_record,
    paginate,
    pick,
    tags_from,
)
from .context import RequestContext
from .solutions import KIND as SOLUTION_KIND
from .solutions import VERSION_KIND as KIND
from .solutions import VERSION_SUMMARY, require_solution
from ..data.metadata import Record

COPIED = ("solutionArn", "performHPO", "performAutoML", "performIncrementalUpdate", "recipeArn", "eventType",
          "datasetGroupArn", "solutionConfig")


def require_version(ctx: RequestContext, arn: str) -> Record:
    return ctx.store.require(arn, KIND, "solution version")


def _check_mode(ctx: RequestContext, solution: Record, mode: str) -> None:
    """UPDATE refreshes an existing FULL model; only some recipes support it (spec §2.5)."""
    if mode == "AUTOTRAIN":
        raise InvalidInputException("trainingMode AUTOTRAIN is set by automatic training; use FULL or UPDATE.")
    if mode != "UPDATE":
        return
    recipe_arn = solution.body["recipeArn"]
    if not catalogue.recipe(recipe_arn).capabilities.update_training:
        raise InvalidInputException(f"trainingMode UPDATE is not supported by recipe {recipe_arn}; use FULL.")
    # An automatic training (AUTOTRAIN) is a full training too; jobs/updates.py starts from the newest ACTIVE model.
    full = [v for v in ctx.store.list(KIND, parent=solution.arn, statuses=(ACTIVE,)) if v.body["trainingMode"] in ("FULL", "AUTOTRAIN")]
    if not full:
        raise InvalidInputException(
            f"trainingMode UPDATE needs an ACTIVE solution version trained with FULL; solution {solution.arn} has none."
        )


def create_solution_version(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateSolutionVersion."""
    solution = require_solution(ctx, params["solutionArn"])
    # A solution becomes ACTIVE within moments of CreateSolution, and client code calls CreateSolutionVersion
    # straight after it (as AWS allows): the training job waits for the solution (jobs/training.py).
    if solution.status not in (ACTIVE, *IN_FLIGHT):
        raise ResourceInUseException(f"Solution {solution.arn} is {solution.status}; it must be ACTIVE.")
    mode = params.get("trainingMode", "FULL")
    _check_mode(ctx, solution, mode)
    def quota() -> None:  # counted under the insert's write lock (Store.create_queued)
        check_quota(ctx, "pending_solution_versions", ctx.store.count(KIND, statuses=IN_FLIGHT),
                    "More than {limit} resources with PENDING or IN_PROGRESS status.")

    return {"solutionVersionArn": start_version(ctx, solution, mode, "MANUAL", params, quota)}


def start_version(ctx: RequestContext, solution: Record, mode: str, training_type: str, params: dict[str, Any],
                  check: Callable[[], None] = lambda: None) -> str:
    """Record a new version and enqueue its training (also used by automatic training); ``check``: a quota."""
    arn = arns.solution_version_arn(solution.arn)
    body = {
        **pick(solution.body, COPIED),
        "solutionVersionArn": arn,
        "trainingMode": mode,
        "trainingType": training_type,
        "status": CREATE_PENDING,
        **pick(params, ("name",)),
    }
    record = new_record(KIND, arn, params.get("name", arns.name_of(arn)), solution.arn, body, tags_from(params))
    ctx.store.create_queued(record, "train", check)
    ctx.services.nudge()
    return arn


def describe_solution_version(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeSolutionVersion."""
    return {"solutionVersion": require_version(ctx, params["solutionVersionArn"]).body}


def list_solution_versions(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListSolutionVersions."""
    parent = params.get("solutionArn")
    if parent is not None:
        ctx.store.require(parent, SOLUTION_KIND, "solution")
    records = ctx.store.list(KIND, parent=parent)
    return paginate(ctx, params, KIND, records, "solutionVersions", lambda r: pick(r.body, VERSION_SUMMARY))


def stop_solution_version_creation(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """StopSolutionVersionCreation: PENDING stops at once; IN_PROGRESS goes through CREATE STOPPING."""
    record = require_version(ctx, params["solutionVersionArn"])
    with ctx.store.transaction() as conn:
        current = ctx.store.require(record.arn, KIND, "solution version")
        if current.status == CREATE_PENDING:
            ctx.store.update(record.arn, {"status": CREATE_STOPPED}, conn)
        elif current.status == CREATE_IN_PROGRESS:
            ctx.store.update(record.arn, {"status": CREATE_STOPPING}, conn)
        else:
            raise ResourceInUseException(
                f"Solution version {record.arn} is {current.status}; only CREATE PENDING or CREATE IN_PROGRESS versions can be stopped."
            )
    return {}


def get_solution_metrics(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """GetSolutionMetrics."""
    record = require_version(ctx, params["solutionVersionArn"])
    if record.status != ACTIVE:
        raise ResourceInUseException(f"Solution version {record.arn} is {record.status}; metrics exist once it is ACTIVE.")
    return {"solutionVersionArn": record.arn, "metrics": record.body.get("_metrics", {})}
