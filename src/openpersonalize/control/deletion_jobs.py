"""Data deletion jobs: CreateDataDeletionJob / DescribeDataDeletionJob / ListDataDeletionJobs (spec §2.4).

A job removes the users listed in a one-column ``USER_ID`` CSV (a file, or every CSV under a prefix) from
every dataset of a dataset group, bulk and individually-imported rows alike. Its statuses differ from the
other jobs: ``PENDING → IN_PROGRESS → COMPLETED | FAILED`` (spec §3.2).
"""

from __future__ import annotations

from typing import Any

from ..errors import ResourceInUseException
from ..jobs.data_deletion import JOB_KIND, KIND, PENDING
from . import arns
from .common import ACTIVE, check_quota, new_record, paginate, pick, tags_from
from .context import RequestContext
from .export_jobs import check_location

SUMMARY = (
    "dataDeletionJobArn", "datasetGroupArn", "jobName", "status", "creationDateTime", "lastUpdatedDateTime",
    "failureReason",
)


def _active_group(ctx: RequestContext, group_arn: str) -> None:
    group = ctx.store.require(group_arn, "dataset-group", "dataset group")
    if group.status != ACTIVE:
        raise ResourceInUseException(f"Dataset group {group_arn} is {group.status}; it must be ACTIVE.")


def create_data_deletion_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateDataDeletionJob."""
    group_arn = params["datasetGroupArn"]
    _active_group(ctx, group_arn)
    check_location("dataSource.dataLocation", params["dataSource"]["dataLocation"], writable=False)
    arn = arns.arn(ctx, KIND, params["jobName"])
    body = {
        "jobName": params["jobName"],
        "dataDeletionJobArn": arn,
        "datasetGroupArn": group_arn,
        "dataSource": params["dataSource"],
        "roleArn": params["roleArn"],
        "status": PENDING,
    }
    record = new_record(KIND, arn, params["jobName"], group_arn, body, tags_from(params))
    ctx.store.create_queued(record, JOB_KIND, lambda: check_quota(  # spec §11: 5 PENDING jobs per dataset group
        ctx, "pending_deletion_jobs_per_group", ctx.store.count(KIND, parent=group_arn, statuses=(PENDING,)),
        "Dataset group " + group_arn + " already has {limit} data deletion jobs with PENDING status."))
    ctx.services.nudge()
    return {"dataDeletionJobArn": arn}


def describe_data_deletion_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeDataDeletionJob."""
    return {"dataDeletionJob": ctx.store.require(params["dataDeletionJobArn"], KIND, "data deletion job").body}


def list_data_deletion_jobs(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListDataDeletionJobs, newest first (the one list whose order AWS documents)."""
    records = ctx.store.list(KIND, parent=params.get("datasetGroupArn"))
    return paginate(ctx, params, KIND, records, "dataDeletionJobs", lambda r: pick(r.body, SUMMARY))
