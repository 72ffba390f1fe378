"""Dataset groups: CreateDatasetGroup / DescribeDatasetGroup / ListDatasetGroups / DeleteDatasetGroup (spec §2.1).

A group is metadata only: it becomes ACTIVE through the "activate" job and disappears through the "delete" job.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputException, ResourceAlreadyExistsException, ResourceInUseException
from . import arns
from .common import (
    start_deletion,
    ACTIVE,
    CREATE_FAILED,
    CREATE_PENDING,
    IN_FLIGHT,
    check_quota,
    new_record,
    paginate,
    pick,
    tags_from,
)
from .context import RequestContext
from ..data.metadata import Record

KIND = "dataset-group"
LABEL = "dataset group"
SUMMARY = ("name", "datasetGroupArn", "status", "creationDateTime", "lastUpdatedDateTime", "failureReason", "domain")
# Resources that live in a group and must be deleted before it (spec §2.1, §3.3; recommenders, filters and
# metric attributions too, the impl. choice of §12.1). kind → label used in the error message.
DEPENDANTS = {
    "dataset": "datasets",
    "solution": "solutions",
    "event-tracker": "event trackers",
    "recommender": "recommenders",
    "filter": "filters",
    "metric-attribution": "metric attributions",
}


def require_group(ctx: RequestContext, arn: str) -> Record:
    """The dataset group, or ResourceNotFoundException."""
    return ctx.store.require(arn, KIND, LABEL)


def require_active_group(ctx: RequestContext, arn: str) -> Record:
    """The dataset group if it is ACTIVE or about to be; ResourceInUseException if it failed or is being deleted.

    A group is ACTIVE moments after CreateDatasetGroup, and client code creates its datasets straight after (as
    AWS allows); their jobs are queued behind the group's activation.
    """
    group = require_group(ctx, arn)
    if group.status not in (ACTIVE, *IN_FLIGHT):
        raise ResourceInUseException(f"Dataset group {arn} is {group.status}; it must be ACTIVE.")
    return group


def create_dataset_group(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateDatasetGroup."""
    name, domain = params["name"], params.get("domain")
    if "roleArn" in params and "kmsKeyArn" not in params:
        # The role only grants access to the KMS key (API_CreateDatasetGroup).
        raise InvalidInputException("roleArn is only valid together with kmsKeyArn; kmsKeyArn was not given.")
    tags = tags_from(params)
    arn = arns.arn(ctx, KIND, name)
    body = {"name": name, "datasetGroupArn": arn, "status": CREATE_PENDING, **pick(params, ("roleArn", "kmsKeyArn", "domain"))}
    with ctx.store.transaction() as conn:  # checks and insert under the write lock: concurrent creates cannot both pass
        if ctx.store.get(arn) is not None:
            raise ResourceAlreadyExistsException(f"A dataset group with the name {name!r} already exists: {arn}.")
        check_quota(
            ctx, "active_dataset_groups", ctx.store.count(KIND, statuses=(*IN_FLIGHT, ACTIVE)),
            f"Cannot create dataset group {name}: the account already has {{limit}} active dataset groups.",
        )
        ctx.store.create(new_record(KIND, arn, name, None, body, tags), conn)
        ctx.store.enqueue("activate", arn, conn=conn)
    ctx.services.nudge()
    return {"datasetGroupArn": arn, "domain": domain}


def describe_dataset_group(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeDatasetGroup."""
    return {"datasetGroup": require_group(ctx, params["datasetGroupArn"]).body}


def list_dataset_groups(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListDatasetGroups."""
    records = ctx.store.list(KIND)
    return paginate(ctx, params, KIND, records, "datasetGroups", lambda r: pick(r.body, SUMMARY))


def _dependants(ctx: RequestContext, arn: str) -> list[str]:
    """``["2 datasets", "1 filters"]``: what still lives in the group."""
    found = []
    for kind, label in DEPENDANTS.items():
        count = ctx.store.count(kind, parent=arn)
        if count:
            found.append(f"{count} {label}")
    return found


def delete_dataset_group(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteDatasetGroup."""
    arn = params["datasetGroupArn"]
    # Under the store's write lock so that no dataset can be created between the check and the status change.
    with ctx.store.transaction() as conn:
        group = require_group(ctx, arn)
        if group.status not in (ACTIVE, CREATE_FAILED):
            raise ResourceInUseException(
                f"Dataset group {arn} is {group.status}; only an ACTIVE or CREATE FAILED group can be deleted."
            )
        found = _dependants(ctx, arn)
        if found:
            raise ResourceInUseException(
                f"Cannot delete dataset group {arn}: it still has {', '.join(found)}. Delete them first."
            )
        start_deletion(ctx, arn, conn=conn)
    ctx.services.nudge()
    return {}
