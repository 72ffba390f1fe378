"""Event trackers: CreateEventTracker / DescribeEventTracker / ListEventTrackers / DeleteEventTracker (spec §2.9).

A tracker is metadata only: it hands out the ``trackingId`` that PutEvents uses. It becomes ACTIVE through the
"activate" job and disappears through the "delete" job; deleting it keeps the Interactions dataset.
"""

from __future__ import annotations

import uuid
from typing import Any

from ..errors import ResourceAlreadyExistsException, ResourceInUseException
from . import arns
from .common import (
    start_deletion,
    ACTIVE,
    CREATE_FAILED,
    CREATE_PENDING,
    DELETE_IN_PROGRESS,
    DELETE_PENDING,
    new_record,
    paginate,
    pick,
    tags_from,
)
from .context import RequestContext
from .dataset_groups import require_active_group
from ..data.metadata import Record

KIND = "event-tracker"
LABEL = "event tracker"
SUMMARY = ("name", "eventTrackerArn", "status", "creationDateTime", "lastUpdatedDateTime")


def create_event_tracker(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateEventTracker."""
    group = require_active_group(ctx, params["datasetGroupArn"])
    record = _new_tracker(ctx, params["name"], group.arn, tags_from(params))
    with ctx.store.transaction() as conn:
        # Checked inside the write transaction: two concurrent creates cannot both pass (SQLite serialises).
        _check_one_per_group(ctx, group.arn)
        ctx.store.create(record, conn=conn)
        ctx.store.enqueue("activate", record.arn, conn=conn)
    ctx.services.nudge()
    return {"eventTrackerArn": record.arn, "trackingId": record.body["trackingId"]}


def describe_event_tracker(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeEventTracker."""
    return {"eventTracker": require_tracker(ctx, params["eventTrackerArn"]).body}


def list_event_trackers(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListEventTrackers."""
    records = ctx.store.list(KIND, parent=params.get("datasetGroupArn"))
    return paginate(ctx, params, KIND, records, "eventTrackers", lambda r: pick(r.body, SUMMARY))


def delete_event_tracker(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteEventTracker."""
    with ctx.store.transaction() as conn:  # the status cannot change between the check and the update
        tracker = require_tracker(ctx, params["eventTrackerArn"])
        _check_deletable(tracker)
        start_deletion(ctx, tracker.arn, conn=conn)
    ctx.services.nudge()
    return {}


def require_tracker(ctx: RequestContext, arn: str) -> Record:
    """The event tracker, or ResourceNotFoundException."""
    return ctx.store.require(arn, KIND, LABEL)


def _check_deletable(tracker: Record) -> None:
    if tracker.status in (DELETE_PENDING, DELETE_IN_PROGRESS):
        raise ResourceInUseException(f"Event tracker {tracker.arn} is already being deleted ({tracker.status}).")
    if tracker.status not in (ACTIVE, CREATE_FAILED):
        # Like datasets: a pending activation would otherwise overwrite DELETE PENDING with ACTIVE.
        raise ResourceInUseException(
            f"Event tracker {tracker.arn} is {tracker.status}; only an ACTIVE or CREATE FAILED tracker can be deleted."
        )


def _new_tracker(ctx: RequestContext, name: str, group_arn: str, tags: dict[str, str]) -> Record:
    arn = arns.arn(ctx, KIND, name)
    body = {
        "name": name,
        "eventTrackerArn": arn,
        "accountId": ctx.account_id,
        "trackingId": str(uuid.uuid4()),
        "datasetGroupArn": group_arn,
        "status": CREATE_PENDING,
    }
    return new_record(KIND, arn, name, group_arn, body, tags)


def _check_one_per_group(ctx: RequestContext, group_arn: str) -> None:
    existing = ctx.store.list(KIND, parent=group_arn)
    if existing:
        # One item-interaction tracker per dataset group (spec §2.9, §11); the code is the one AWS returns.
        raise ResourceAlreadyExistsException(
            f"Event tracker already exists for dataset group {group_arn}: {existing[0].arn}."
        )
