"""Dataset export jobs: CreateDatasetExportJob / DescribeDatasetExportJob / ListDatasetExportJobs (spec §2.4).

Creating a job only records it and queues a ``dataset-export`` job; jobs/dataset_export.py writes the CSV
files. Destinations are ``s3://bucket/prefix/`` (any S3-compatible endpoint through the standard AWS settings,
e.g. ``AWS_ENDPOINT_URL_S3``) or — an OpenPersonalize extension — ``file:///abs/path/`` URLs and absolute
paths.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputException, ResourceInUseException
from ..data.readers import parse_location
from ..jobs.dataset_export import JOB_KIND, KIND
from . import arns
from .common import ACTIVE, CREATE_PENDING, IN_FLIGHT, check_quota, new_record, paginate, pick, tags_from
from .context import RequestContext

SUMMARY = ("datasetExportJobArn", "jobName", "status", "creationDateTime", "lastUpdatedDateTime", "failureReason")
# "You can't export data in an Action interactions dataset or Actions dataset." (AWS export-data guide)
NOT_EXPORTABLE = ("ACTIONS", "ACTION_INTERACTIONS")
DEFAULT_INGESTION_MODE = "PUT"  # API_CreateDatasetExportJob: ingestionMode defaults to PUT


def region_prefix(ctx: RequestContext) -> str:
    """ARNs of this caller's region and account start with this (quotas are per region)."""
    return f"arn:aws:personalize:{ctx.region}:{ctx.account_id}:"


def check_location(member: str, text: str, writable: bool) -> None:
    """The location forms jobs understand (data/readers.py); http(s) URLs can be read but not written."""
    if writable and text.lower().startswith(("http://", "https://")):
        raise InvalidInputException(
            f"Value {text!r} at '{member}' cannot be written: use s3://bucket/prefix/ "
            "(or, as an OpenPersonalize extension, file:///abs/path/ or an absolute path)."
        )
    try:
        parse_location(text)
    except ValueError as error:
        raise InvalidInputException(f"Value {text!r} at '{member}' is not a usable location: {error}") from None


def _exportable_dataset(ctx: RequestContext, dataset_arn: str) -> None:
    dataset = ctx.store.require(dataset_arn, "dataset", "dataset")
    if dataset.body.get("datasetType") in NOT_EXPORTABLE:
        raise InvalidInputException(
            f"Dataset {dataset_arn} is of type {dataset.body['datasetType']}: "
            f"{' and '.join(NOT_EXPORTABLE)} datasets cannot be exported."
        )
    if dataset.status != ACTIVE:
        raise ResourceInUseException(f"Dataset {dataset_arn} is {dataset.status}; it must be ACTIVE to be exported.")


def _check_pending_quota(ctx: RequestContext) -> None:
    prefix = region_prefix(ctx)
    pending = sum(r.arn.startswith(prefix) for r in ctx.store.list(KIND, statuses=IN_FLIGHT))
    check_quota(ctx, "pending_export_jobs", pending, "More than {limit} resources with PENDING or IN_PROGRESS status.")


def create_dataset_export_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateDatasetExportJob."""
    dataset_arn = params["datasetArn"]
    _exportable_dataset(ctx, dataset_arn)
    check_location("jobOutput.s3DataDestination.path", params["jobOutput"]["s3DataDestination"]["path"], writable=True)
    arn = arns.arn(ctx, KIND, params["jobName"])
    body = {
        "jobName": params["jobName"],
        "datasetExportJobArn": arn,
        "datasetArn": dataset_arn,
        "ingestionMode": params.get("ingestionMode", DEFAULT_INGESTION_MODE),
        "roleArn": params["roleArn"],
        "status": CREATE_PENDING,
        "jobOutput": params["jobOutput"],
    }
    record = new_record(KIND, arn, params["jobName"], dataset_arn, body, tags_from(params))
    ctx.store.create_queued(record, JOB_KIND, lambda: _check_pending_quota(ctx))
    ctx.services.nudge()
    return {"datasetExportJobArn": arn}


def describe_dataset_export_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeDatasetExportJob."""
    return {"datasetExportJob": ctx.store.require(params["datasetExportJobArn"], KIND, "dataset export job").body}


def list_dataset_export_jobs(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListDatasetExportJobs, newest first, optionally for one dataset."""
    records = ctx.store.list(KIND, parent=params.get("datasetArn"))
    return paginate(ctx, params, KIND, records, "datasetExportJobs", lambda r: pick(r.body, SUMMARY))
