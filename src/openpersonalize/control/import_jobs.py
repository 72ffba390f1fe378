"""Dataset import jobs (spec §2.4): CreateDatasetImportJob, DescribeDatasetImportJob, ListDatasetImportJobs.

The request only checks, records and enqueues; the "dataset_import" runner (jobs/dataset_import.py) reads
the files and commits them to the dataset.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputException, ResourceInUseException
from ..data.readers import parse_location
from . import arns, metric_attributions
from .common import ACTIVE, CREATE_PENDING, IN_FLIGHT, check_quota, new_record, paginate, pick, tags_from
from .context import RequestContext
from ..data.metadata import Record

KIND = "dataset-import-job"
JOB_KIND = "dataset_import"
SUMMARY_KEYS = (
    "datasetImportJobArn", "jobName", "status", "creationDateTime", "lastUpdatedDateTime", "failureReason", "importMode",
)


def _in_region(ctx: RequestContext, record: Record) -> bool:
    return record.arn.startswith(f"arn:aws:personalize:{ctx.region}:{ctx.account_id}:")


def _active_dataset(ctx: RequestContext, dataset_arn: str) -> Record:
    dataset = ctx.store.require(dataset_arn, "dataset", "dataset")
    # A dataset still CREATE PENDING (created a moment ago) is accepted: the import job waits for it.
    if dataset.status not in (ACTIVE, *IN_FLIGHT):
        raise ResourceInUseException(
            f"Dataset {dataset_arn} is {dataset.status}; data can be imported only into an ACTIVE dataset."
        )
    return dataset


def _had_bulk_import(ctx: RequestContext, dataset: Record) -> bool:
    """An import into this dataset finished (an older dataset of the same ARN, since deleted, does not count)."""
    return any(
        job.body["creationDateTime"] >= dataset.created
        for job in ctx.store.list(KIND, parent=dataset.arn, statuses=(ACTIVE,))
    )


def _check_mode(ctx: RequestContext, dataset: Record, mode: str) -> None:
    if mode == "INCREMENTAL" and not _had_bulk_import(ctx, dataset):
        raise InvalidInputException(
            f"importMode INCREMENTAL is not valid for dataset {dataset.arn}: it has no bulk data yet. "
            "Run a FULL import first."
        )


def _check_location(location: str) -> None:
    try:
        parse_location(location)
    except ValueError as exc:
        raise InvalidInputException(str(exc)) from None


def _check_quota(ctx: RequestContext) -> None:
    pending = sum(1 for job in ctx.store.list(KIND, statuses=IN_FLIGHT) if _in_region(ctx, job))
    check_quota(ctx, "pending_import_jobs", pending, "More than {limit} resources with PENDING or IN_PROGRESS status.")


def _body(arn: str, params: dict[str, Any], mode: str) -> dict[str, Any]:
    body = {
        "jobName": params["jobName"],
        "datasetImportJobArn": arn,
        "datasetArn": params["datasetArn"],
        "dataSource": {"dataLocation": params["dataSource"]["dataLocation"]},
        "status": CREATE_PENDING,
        "importMode": mode,
        "publishAttributionMetricsToS3": params.get("publishAttributionMetricsToS3", False),
    }
    if "roleArn" in params:
        body["roleArn"] = params["roleArn"]
    return body


def create_dataset_import_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateDatasetImportJob."""
    if "dataLocation" not in params["dataSource"]:
        raise InvalidInputException("dataSource.dataLocation is required: the S3 URI, URL or path of the CSV data.")
    _check_location(params["dataSource"]["dataLocation"])
    mode = params.get("importMode", "FULL")
    tags = tags_from(params)
    arn = arns.arn(ctx, KIND, params["jobName"])
    with ctx.store.transaction() as conn:  # the dataset cannot start deleting between the check and the insert
        dataset = _active_dataset(ctx, params["datasetArn"])
        _check_mode(ctx, dataset, mode)
        if params.get("publishAttributionMetricsToS3"):
            metric_attributions.check_report_destination(ctx, dataset)
        _check_quota(ctx)
        ctx.store.create(new_record(KIND, arn, params["jobName"], dataset.arn, _body(arn, params, mode), tags), conn)
        ctx.store.enqueue(JOB_KIND, arn, conn=conn)
    ctx.services.nudge()
    return {"datasetImportJobArn": arn}


def describe_dataset_import_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeDatasetImportJob."""
    record = ctx.store.require(params["datasetImportJobArn"], KIND, "dataset import job")
    return {"datasetImportJob": record.body}


def list_dataset_import_jobs(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListDatasetImportJobs (optionally of one dataset), newest first."""
    records = [r for r in ctx.store.list(KIND, parent=params.get("datasetArn")) if _in_region(ctx, r)]
    return paginate(ctx, params, KIND, records, "datasetImportJobs", lambda r: pick(r.body, SUMMARY_KEYS))
