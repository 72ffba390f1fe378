"""Campaigns: CreateCampaign / DescribeCampaign / ListCampaigns / UpdateCampaign / DeleteCampaign (spec §2.6).

A campaign deploys one ACTIVE solution version. Lifecycle: CreateCampaign records it CREATE PENDING and
enqueues a "campaign-deploy" job, which loads the model into the serving cache (serving/models.py) and only
then marks it ACTIVE — seconds, not minutes. UpdateCampaign records ``latestCampaignUpdate`` and enqueues
"campaign-update": the new model is loaded while the old one keeps answering, then the top-level fields
switch in one write, so no request fails during a rollout. ``<solutionArn>/$LATEST`` resolves to the newest
ACTIVE version; with ``syncWithLatestSolutionVersion`` the campaign follows each new ACTIVE version
(``follow_latest``, called by the training job).

Describe shows the version actually deployed in ``solutionVersionArn`` (impl. choice: the alias is kept in
the private ``_requestedVersionArn``); ``minProvisionedTPS`` is accepted and reported — serving here has no
provisioned capacity to bill.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputException, ResourceInUseException
from ..jobs.base import JobFailed, Progress
from ..recipes import catalogue
from . import arns
from .common import (
    start_deletion,
    ACTIVE,
    check_serving_config,
    CREATE_FAILED,
    CREATE_IN_PROGRESS,
    CREATE_PENDING,
    DELETE_PENDING,
    IN_FLIGHT,
    check_quota,
    new_record,
    now,
    paginate,
    pick,
    tags_from,
)
from .context import RequestContext, Services
from ..data.metadata import Job, Record

KIND = "campaign"
LATEST = "$LATEST"
SUMMARY = ("name", "campaignArn", "status", "creationDateTime", "lastUpdatedDateTime", "failureReason")


def require_campaign(ctx: RequestContext, arn: str) -> Record:
    return ctx.store.require(arn, KIND, "campaign")


# ---- checks ----------------------------------------------------------------------------------------------------


def resolve_version(ctx: RequestContext, arn: str) -> Record:
    """An ACTIVE, deployable solution version; ``<solutionArn>/$LATEST`` is its newest ACTIVE version."""
    if arn.endswith("/" + LATEST):
        solution_arn = arn.removesuffix("/" + LATEST)
        ctx.store.require(solution_arn, "solution", "solution")
        active = ctx.store.list("solution-version", parent=solution_arn, statuses=(ACTIVE,))
        if not active:
            raise ResourceInUseException(
                f"solutionVersionArn {arn} names the latest ACTIVE version of solution {solution_arn}, which has none yet."
            )
        return active[0]
    version = ctx.store.require(arn, "solution-version", "solution version")
    if version.status != ACTIVE:
        raise ResourceInUseException(f"Solution version {arn} is {version.status}; a campaign needs an ACTIVE version.")
    recipe_type = catalogue.recipe(version.body["recipeArn"]).recipe_type
    if recipe_type == catalogue.USER_SEGMENTATION:
        raise InvalidInputException(
            f"Solution version {arn} is a USER_SEGMENTATION model; use it with CreateBatchSegmentJob, not a campaign."
        )
    return version


def check_config(config: dict[str, Any], requested_arn: str, recipe_arn: str) -> None:
    """campaignConfig against spec §2.6 (value types and ranges the wire model cannot express)."""
    if config.get("syncWithLatestSolutionVersion") and not requested_arn.endswith("/" + LATEST):
        raise InvalidInputException(
            "campaignConfig.syncWithLatestSolutionVersion=true needs solutionVersionArn in the form "
            f"<solutionArn>/$LATEST; got {requested_arn}."
        )
    check_serving_config("campaignConfig", config, recipe_arn)



# ---- handlers --------------------------------------------------------------------------------------------------


def create_campaign(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateCampaign."""
    requested = params["solutionVersionArn"]
    version = resolve_version(ctx, requested)
    config = params.get("campaignConfig", {})
    check_config(config, requested, version.body["recipeArn"])
    group_arn = version.body["datasetGroupArn"]
    arn = arns.arn(ctx, KIND, params["name"])
    body = {
        "name": params["name"],
        "campaignArn": arn,
        "solutionVersionArn": version.arn,
        "minProvisionedTPS": params.get("minProvisionedTPS", 1),
        "campaignConfig": config,
        "status": CREATE_PENDING,
        "_requestedVersionArn": requested,
        "_solutionArn": version.body["solutionArn"],
    }
    ctx.store.create_queued(new_record(KIND, arn, params["name"], group_arn, body, tags_from(params)), "campaign-deploy",
                            lambda: check_quota(
                                ctx, "active_campaigns_per_group",
                                ctx.store.count(KIND, parent=group_arn, statuses=(*IN_FLIGHT, ACTIVE)),
                                "Cannot create a campaign. More than {limit} resources in ACTIVE state."))
    ctx.services.nudge()
    return {"campaignArn": arn}


def describe_campaign(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeCampaign."""
    return {"campaign": require_campaign(ctx, params["campaignArn"]).body}


def list_campaigns(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListCampaigns, optionally of one solution."""
    records = ctx.store.list(KIND)
    solution_arn = params.get("solutionArn")
    if solution_arn is not None:
        ctx.store.require(solution_arn, "solution", "solution")
        records = [r for r in records if r.body.get("_solutionArn") == solution_arn]
    return paginate(ctx, params, KIND, records, "campaigns", lambda r: pick(r.body, SUMMARY))


def update_campaign(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateCampaign: recorded in latestCampaignUpdate; the deployed model serves until the new one is loaded."""
    record = require_campaign(ctx, params["campaignArn"])
    if record.status not in (ACTIVE, CREATE_FAILED):
        raise ResourceInUseException(f"Campaign {record.arn} is {record.status}; it must be ACTIVE or CREATE FAILED to update.")
    pending = (record.body.get("latestCampaignUpdate") or {}).get("status")
    if pending in IN_FLIGHT:
        raise ResourceInUseException(f"Campaign {record.arn} already has an update {pending}.")
    requested = params.get("solutionVersionArn", record.body.get("_requestedVersionArn", record.body["solutionVersionArn"]))
    version = resolve_version(ctx, requested)
    if version.body["datasetGroupArn"] != record.parent:
        raise InvalidInputException(
            f"Solution version {version.arn} belongs to dataset group {version.body['datasetGroupArn']}, "
            f"not to the campaign's group {record.parent}."
        )
    config = params.get("campaignConfig", record.body.get("campaignConfig", {}))
    check_config(config, requested, version.body["recipeArn"])
    start_update(ctx.services, record, version, requested, params.get("minProvisionedTPS", record.body["minProvisionedTPS"]), config)
    return {"campaignArn": record.arn}


def start_update(
    services: Services, record: Record, version: Record, requested: str, tps: int, config: dict[str, Any]
) -> None:
    stamp = now()
    update = {
        "solutionVersionArn": version.arn,
        "minProvisionedTPS": tps,
        "campaignConfig": config,
        "status": CREATE_PENDING,
        "creationDateTime": stamp,
        "lastUpdatedDateTime": stamp,
    }
    services.store.update(record.arn, {"latestCampaignUpdate": update, "_pendingRequestedArn": requested})
    services.store.enqueue("campaign-update", record.arn)
    services.nudge()


def delete_campaign(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteCampaign: asynchronous; the solution version is untouched."""
    record = require_campaign(ctx, params["campaignArn"])
    if record.status == DELETE_PENDING:
        raise ResourceInUseException(f"Campaign {record.arn} is already being deleted.")
    pending = (record.body.get("latestCampaignUpdate") or {}).get("status")
    if pending in IN_FLIGHT:
        raise ResourceInUseException(f"Campaign {record.arn} has an update {pending}; delete it once the update ends.")
    start_deletion(ctx, record.arn)
    ctx.services.record_changed(record.arn)
    ctx.services.nudge()
    return {}


# ---- jobs ------------------------------------------------------------------------------------------------------


def deploy(services: Services, job: Job, progress: Progress) -> None:
    """The "campaign-deploy" job: load the model into the serving cache, then ACTIVE."""
    record = services.store.get(job.arn, KIND)
    if record is None or record.status not in (CREATE_PENDING, CREATE_IN_PROGRESS):
        return
    services.store.update_if(job.arn, (CREATE_PENDING,), {"status": CREATE_IN_PROGRESS})
    try:
        services.serving.models.warm(record.body["solutionVersionArn"])
    except (OSError, LookupError, ValueError) as exc:
        raise JobFailed(f"Create failed. The model could not be loaded: {exc}") from exc
    services.store.update_if(job.arn, (CREATE_IN_PROGRESS,), {"status": ACTIVE, "failureReason": None})
    services.record_changed(job.arn)


def finish_update(services: Services, job: Job, progress: Progress) -> None:
    """The "campaign-update" job: load the new model, then switch the campaign to it in one write."""
    record = services.store.get(job.arn, KIND)
    update = (record.body.get("latestCampaignUpdate") or {}) if record else {}
    if record is None or update.get("status") not in IN_FLIGHT:
        return
    services.store.update(job.arn, {"latestCampaignUpdate": {**update, "status": CREATE_IN_PROGRESS, "lastUpdatedDateTime": now()}})
    try:
        services.serving.models.warm(update["solutionVersionArn"])
    except (OSError, LookupError, ValueError) as exc:
        failed = {**update, "status": CREATE_FAILED, "failureReason": f"The model could not be loaded: {exc}", "lastUpdatedDateTime": now()}
        services.store.update(job.arn, {"latestCampaignUpdate": failed})
        return
    done = {**update, "status": ACTIVE, "lastUpdatedDateTime": now()}
    changes = {
        **pick(update, ("solutionVersionArn", "minProvisionedTPS", "campaignConfig")),
        "_requestedVersionArn": record.body.get("_pendingRequestedArn", update["solutionVersionArn"]),
        "latestCampaignUpdate": done,
        "status": ACTIVE,
        "failureReason": None,
        "_pendingRequestedArn": None,
    }
    services.store.update(job.arn, changes)
    services.record_changed(job.arn)


def follow_latest(services: Services, version: Record) -> None:
    """A version became ACTIVE: campaigns of its solution with syncWithLatestSolutionVersion move to it."""
    solution_arn = version.body["solutionArn"]
    for record in services.store.list(KIND, parent=version.body["datasetGroupArn"]):
        config = record.body.get("campaignConfig") or {}
        if record.body.get("_solutionArn") != solution_arn or not config.get("syncWithLatestSolutionVersion"):
            continue
        if record.status not in (ACTIVE, CREATE_FAILED) or record.body["solutionVersionArn"] == version.arn:
            continue
        start_update(services, record, version, record.body["_requestedVersionArn"], record.body["minProvisionedTPS"], config)
