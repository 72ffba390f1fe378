"""Filters: CreateFilter / DescribeFilter / ListFilters / DeleteFilter (spec §2.8, §7).

The expression is parsed and checked against the group's schemas at create time, so a bad filter fails the
request with a message naming the token or column — never later at recommendation time.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputException, ResourceInUseException
from ..data.schema import Schema, parse_schema
from ..filters.parse import check_filter, parse_filter
from . import arns
from .batch_jobs import INFERENCE_KIND, SEGMENT_KIND
from .common import ACTIVE, CREATE_FAILED, CREATE_PENDING, DELETE_PENDING, IN_FLIGHT, check_quota, new_record, paginate, pick, start_deletion, tags_from
from .context import RequestContext
from .dataset_groups import require_active_group
from ..data.metadata import Record

KIND = "filter"
MAX_FIELDS_PER_GROUP = 20  # spec §11: distinct dataset fields across all filters of a group
BATCH_KINDS = {INFERENCE_KIND: "batch inference job", SEGMENT_KIND: "batch segment job"}
SUMMARY = ("name", "filterArn", "creationDateTime", "lastUpdatedDateTime", "datasetGroupArn", "failureReason", "status")


def group_schemas(ctx: RequestContext, group_arn: str) -> dict[str, Schema]:
    """datasetType → parsed schema, for every dataset of the group."""
    schemas: dict[str, Schema] = {}
    for dataset in ctx.store.list("dataset", parent=group_arn):
        schema = ctx.store.get(dataset.body["schemaArn"], "schema")
        if schema is not None:
            schemas[dataset.body["datasetType"]] = parse_schema(schema.body["schema"])
    return schemas


def _check_group_fields(ctx: RequestContext, group_arn: str, fields: set[tuple[str, str]]) -> None:
    used = {tuple(f) for r in ctx.store.list(KIND, parent=group_arn) for f in r.body.get("_fields", [])}
    total = used | fields
    if len(total) > MAX_FIELDS_PER_GROUP:
        raise InvalidInputException(
            f"Could not create filter. The filters of a dataset group can use at most {MAX_FIELDS_PER_GROUP} "
            f"distinct dataset fields; this filter would bring the total to {len(total)}."
        )


def create_filter(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateFilter."""
    group_arn = params["datasetGroupArn"]
    require_active_group(ctx, group_arn)
    expression = parse_filter(params["filterExpression"])
    fields = check_filter(expression, group_schemas(ctx, group_arn))
    arn = arns.arn(ctx, KIND, params["name"])
    body = {
        "name": params["name"],
        "filterArn": arn,
        "datasetGroupArn": group_arn,
        "filterExpression": params["filterExpression"],
        "status": CREATE_PENDING,
        "_fields": sorted(fields),  # not on the wire: the serializer only writes shape members
    }

    def limits() -> None:  # counted under the insert's write lock: concurrent creates cannot all pass
        _check_group_fields(ctx, group_arn, fields)
        check_quota(ctx, "filters_per_group", ctx.store.count(KIND, parent=group_arn),
                    "Cannot create a filter. The dataset group already has {limit} filters.")

    ctx.store.create_queued(new_record(KIND, arn, params["name"], group_arn, body, tags_from(params)), "activate", limits)
    ctx.services.nudge()
    return {"filterArn": arn}


def describe_filter(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeFilter."""
    return {"filter": ctx.store.require(params["filterArn"], KIND, "filter").body}


def list_filters(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListFilters (its list key is spelled `Filters`)."""
    records = ctx.store.list(KIND, parent=params.get("datasetGroupArn"))
    return paginate(ctx, params, KIND, records, "Filters", lambda r: pick(r.body, SUMMARY))


def _batch_jobs_using(ctx: RequestContext, filter_arn: str) -> list[Record]:
    """Batch jobs, waiting or running, that will read the filter (jobs/batch_inference.make_filter)."""
    return [job for kind in BATCH_KINDS for job in ctx.store.list(kind, statuses=IN_FLIGHT)
            if job.body.get("filterArn") == filter_arn]


def delete_filter(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteFilter. Refused while a batch job that uses the filter is pending or in progress (spec §2.8);
    campaigns and recommenders hold no reference (a filter is named per request), so they never block it."""
    record = ctx.store.require(params["filterArn"], KIND, "filter")
    if record.status in (DELETE_PENDING,):
        raise ResourceInUseException(f"Filter {record.arn} is already being deleted.")
    users = _batch_jobs_using(ctx, record.arn)
    if users:
        job = users[0]
        more = f" (and {len(users) - 1} more batch jobs)" if len(users) > 1 else ""
        raise ResourceInUseException(
            f"Filter {record.arn} is used by {BATCH_KINDS[job.kind]} {job.arn}, which is {job.status}{more}; "
            "delete the filter once the job has finished."
        )
    if not start_deletion(ctx, record.arn, only_from=(ACTIVE, CREATE_FAILED, *IN_FLIGHT)):
        raise ResourceInUseException(f"Filter {record.arn} is already being deleted.")
    ctx.services.record_changed(record.arn)  # this process stops serving it at once, not after its record cache expires
    ctx.services.nudge()
    return {}
