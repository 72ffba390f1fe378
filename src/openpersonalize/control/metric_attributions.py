"""Metric attributions (spec §2.11): Create / Describe / List / Update / Delete, ListMetricAttributionMetrics.

A metric attribution names up to 10 metrics — ``SAMPLECOUNT()`` or ``SUM(Items.<col>)`` /
``SUM(Interactions.<col>)`` over the events of one event type — and where their reports go. Expressions are
checked against the group's schemas here, so a bad metric fails the request naming the column; the reports
themselves are computed and written by jobs/attribution.py (after an import with
``publishAttributionMetricsToS3``, and periodically for PutEvents data).
"""

from __future__ import annotations

from typing import Any, cast

from ..errors import InvalidInputException, ResourceAlreadyExistsException, ResourceInUseException
from ..data.schema import Field, Schema
from . import arns
from .common import ACTIVE, CREATE_FAILED, CREATE_PENDING, DELETE_IN_PROGRESS, DELETE_PENDING, new_record, paginate, pick, start_deletion
from .context import RequestContext
from .dataset_groups import require_active_group
from .export_jobs import check_location
from .filters import group_schemas
from ..data.metadata import Record
from ..jobs.attribution_records import KIND, Expression, group_attribution, output_path, parse_expression, state_arn

LABEL = "metric attribution"
SUMMARY = ("name", "metricAttributionArn", "status", "creationDateTime", "lastUpdatedDateTime", "failureReason")
MAX_METRICS = 10  # spec §11: metrics per metric attribution
NUMERIC_TYPES = frozenset({"int", "long", "float", "double"})


# ---- handlers ------------------------------------------------------------------------------------------------


def create_metric_attribution(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateMetricAttribution."""
    group = require_active_group(ctx, params["datasetGroupArn"])
    metrics = checked_metrics(group_schemas(ctx, group.arn), group.arn, params["metrics"])
    output = _checked_output(params["metricsOutputConfig"])
    arn = arns.arn(ctx, KIND, params["name"])
    body = {
        "name": params["name"],
        "metricAttributionArn": arn,
        "datasetGroupArn": group.arn,
        "metricsOutputConfig": output,
        "status": CREATE_PENDING,
        "_metrics": metrics,  # not on the wire: MetricAttribution has no metrics member (ListMetricAttributionMetrics)
    }
    with ctx.store.transaction() as conn:
        # Inside the write transaction: two concurrent creates cannot both pass the one-per-group check.
        _check_one_per_group(ctx, group.arn)
        ctx.store.create(new_record(KIND, arn, params["name"], group.arn, body, {}), conn)
        ctx.store.remove(state_arn(arn), conn)  # report bookkeeping of an earlier attribution of this name
        ctx.store.enqueue("activate", arn, conn=conn)
    ctx.services.nudge()
    return {"metricAttributionArn": arn}


def describe_metric_attribution(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeMetricAttribution."""
    return {"metricAttribution": ctx.store.require(params["metricAttributionArn"], KIND, LABEL).body}


def list_metric_attributions(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListMetricAttributions, newest first, optionally of one dataset group."""
    records = ctx.store.list(KIND, parent=params.get("datasetGroupArn"))
    return paginate(ctx, params, KIND, records, "metricAttributions", lambda r: pick(r.body, SUMMARY))


def list_metric_attribution_metrics(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListMetricAttributionMetrics: the attribution's metrics in the order they were added."""
    record = ctx.store.require(_required_arn(params, "ListMetricAttributionMetrics"), KIND, LABEL)
    metrics = record.body["_metrics"]
    # paginate only slices and maps; the metric dicts stand in for records here.
    return paginate(ctx, params, f"{KIND}-metric", cast(Any, metrics), "metrics", lambda m: dict(cast(Any, m)))


def update_metric_attribution(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateMetricAttribution: removeMetrics first, then addMetrics, then the output config."""
    arn = _required_arn(params, "UpdateMetricAttribution")
    if not any(key in params for key in ("addMetrics", "removeMetrics", "metricsOutputConfig")):
        raise InvalidInputException(
            "UpdateMetricAttribution needs at least one of addMetrics, removeMetrics or metricsOutputConfig; none was given."
        )
    with ctx.store.transaction() as conn:
        record = _require_active(ctx, arn)
        group_arn = record.body["datasetGroupArn"]
        kept = _without(record.body["_metrics"], params.get("removeMetrics", []))
        added = checked_metrics(group_schemas(ctx, group_arn), group_arn, params.get("addMetrics", []), minimum=0)
        metrics = _merged(kept, added)
        changes: dict[str, Any] = {"_metrics": metrics}
        if "metricsOutputConfig" in params:
            changes["metricsOutputConfig"] = _checked_output(params["metricsOutputConfig"])
        ctx.store.update(arn, changes, conn)
    return {"metricAttributionArn": arn}


def delete_metric_attribution(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteMetricAttribution: DELETE PENDING, then gone through the "delete" job."""
    with ctx.store.transaction() as conn:  # the status cannot change between the check and the update
        record = ctx.store.require(params["metricAttributionArn"], KIND, LABEL)
        _check_deletable(record)
        start_deletion(ctx, record.arn, conn=conn)
        ctx.store.remove(state_arn(record.arn), conn)
    ctx.services.nudge()
    return {}


# ---- used by import jobs and the report job -------------------------------------------------------------------




def check_report_destination(ctx: RequestContext, dataset: Record) -> None:
    """CreateDatasetImportJob with publishAttributionMetricsToS3=true: there must be somewhere to publish to."""
    if dataset.body.get("datasetType") != "INTERACTIONS":
        raise InvalidInputException(
            f"publishAttributionMetricsToS3 is true, but dataset {dataset.arn} is of type "
            f"{dataset.body.get('datasetType')}: metric reports are published for Interactions imports only."
        )
    group_arn = dataset.body["datasetGroupArn"]
    attribution = group_attribution(ctx.store, group_arn)
    if attribution is None or output_path(attribution) is None:
        raise InvalidInputException(
            f"publishAttributionMetricsToS3 is true, but dataset group {group_arn} has no metric attribution with "
            "metricsOutputConfig.s3DataDestination; create one (CreateMetricAttribution) or update it first."
        )




def checked_metrics(
    schemas: dict[str, Schema], group_arn: str, metrics: list[dict[str, Any]], minimum: int = 1
) -> list[dict[str, Any]]:
    """The metrics as stored (eventType, metricName, expression), each expression checked against the schemas."""
    interactions = schemas.get("INTERACTIONS")
    if interactions is None or interactions.field("EVENT_TYPE") is None:
        raise InvalidInputException(
            f"Dataset group {group_arn} needs an Interactions dataset whose schema has an EVENT_TYPE column "
            "before metrics can be attributed to event types."
        )
    if len(metrics) < minimum:
        raise InvalidInputException(f"metrics has {len(metrics)} entries; a metric attribution needs at least {minimum}.")
    out = []
    for index, metric in enumerate(metrics, 1):
        _resolve_column(parse_expression(metric["expression"], f"metrics[{index}].expression"), schemas, metric)
        out.append({"eventType": metric["eventType"], "metricName": metric["metricName"], "expression": metric["expression"]})
    _check_names(out)
    return out


# ---- helpers -------------------------------------------------------------------------------------------------


def _required_arn(params: dict[str, Any], operation: str) -> str:
    # The botocore model leaves metricAttributionArn optional here, but there is nothing to act on without it.
    if "metricAttributionArn" not in params:
        raise InvalidInputException(f"{operation} needs metricAttributionArn: the ARN of the metric attribution.")
    return str(params["metricAttributionArn"])


def _resolve_column(expression: Expression, schemas: dict[str, Schema], metric: dict[str, Any]) -> Field | None:
    """The numeric schema field a SUM reads; InvalidInput naming the column when it is missing or not numeric."""
    if expression.dataset is None or expression.column is None:
        return None
    label = expression.dataset.capitalize()
    schema = schemas.get(expression.dataset)
    if schema is None:
        raise InvalidInputException(
            f"Metric {metric['metricName']!r} sums {label}.{expression.column}, but the dataset group has no {label} dataset."
        )
    field = _field_named(schema, expression.column)
    if field is None:
        raise InvalidInputException(
            f"Metric {metric['metricName']!r} sums {label}.{expression.column}, but the {label} schema has no column "
            f"{expression.column!r}; its columns are {', '.join(schema.names)}."
        )
    if field.type not in NUMERIC_TYPES:
        raise InvalidInputException(
            f"Metric {metric['metricName']!r} sums {label}.{field.name}, which is of type {field.type}; "
            "SUM needs a numeric column (int, long, float or double)."
        )
    return field


def _field_named(schema: Schema, column: str) -> Field | None:
    # Schema field names are unique ignoring case (spec §4.1), so a case-insensitive match is unambiguous.
    for field in schema.fields:
        if field.name.lower() == column.lower():
            return field
    return None


def _check_names(metrics: list[dict[str, Any]]) -> None:
    if len(metrics) > MAX_METRICS:
        raise InvalidInputException(f"A metric attribution can have at most {MAX_METRICS} metrics; this one would have {len(metrics)}.")
    seen: set[str] = set()
    for metric in metrics:
        if metric["metricName"] in seen:
            raise InvalidInputException(f"metricName {metric['metricName']!r} is used twice; metric names must be unique.")
        seen.add(metric["metricName"])


def _without(metrics: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    present = {m["metricName"] for m in metrics}
    unknown = [name for name in names if name not in present]
    if unknown:
        raise InvalidInputException(
            f"removeMetrics names {', '.join(repr(n) for n in unknown)}, which the metric attribution does not have; "
            f"its metrics are {', '.join(sorted(present)) or 'none'}."
        )
    return [m for m in metrics if m["metricName"] not in set(names)]


def _merged(kept: list[dict[str, Any]], added: list[dict[str, Any]]) -> list[dict[str, Any]]:
    existing = {m["metricName"] for m in kept}
    for metric in added:
        if metric["metricName"] in existing:
            raise ResourceAlreadyExistsException(
                f"addMetrics: the metric attribution already has a metric named {metric['metricName']!r}; "
                "remove it in the same request (removeMetrics) to replace it."
            )
    metrics = kept + added
    _check_names(metrics)
    if not metrics:
        raise InvalidInputException("The update would leave the metric attribution without metrics; it needs at least 1.")
    return metrics


def _checked_output(config: dict[str, Any]) -> dict[str, Any]:
    output: dict[str, Any] = {"roleArn": config["roleArn"]}
    destination = config.get("s3DataDestination")
    if destination is not None:
        check_location("metricsOutputConfig.s3DataDestination.path", destination["path"], writable=True)
        output["s3DataDestination"] = destination
    return output


def _require_active(ctx: RequestContext, arn: str) -> Record:
    record = ctx.store.require(arn, KIND, LABEL)
    if record.status != ACTIVE:
        raise ResourceInUseException(f"Metric attribution {arn} is {record.status}; only an ACTIVE one can be updated.")
    return record


def _check_deletable(record: Record) -> None:
    if record.status in (DELETE_PENDING, DELETE_IN_PROGRESS):
        raise ResourceInUseException(f"Metric attribution {record.arn} is already being deleted ({record.status}).")
    if record.status not in (ACTIVE, CREATE_FAILED):
        # A pending activation would otherwise overwrite DELETE PENDING with ACTIVE (as for event trackers).
        raise ResourceInUseException(
            f"Metric attribution {record.arn} is {record.status}; only an ACTIVE or CREATE FAILED one can be deleted."
        )


def _check_one_per_group(ctx: RequestContext, group_arn: str) -> None:
    existing = group_attribution(ctx.store, group_arn)
    if existing is not None:
        # One metric attribution per dataset group (spec §2.11, §11).
        raise ResourceAlreadyExistsException(f"Dataset group {group_arn} already has a metric attribution: {existing.arn}.")
