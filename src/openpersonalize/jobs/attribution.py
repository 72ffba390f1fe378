"""Metric-attribution reports (spec §2.11): each metric per event source per 15 minutes, as CSV files.

Two ImportMethods, as Personalize names them:

- ``BULK``: when an Interactions import job with ``publishAttributionMetricsToS3=true`` finishes, over the rows
  that job imported (jobs/dataset_import.py calls :func:`publish_import_report`).
- ``PUT``: periodically (``settings.attribution_report_seconds``, default 900 s; jobs/scheduler.py calls
  :func:`publish_put_reports`), over the PutEvents rows of the 15-minute windows completed since the previous
  PUT report. Rows arriving later for a window already reported are not reported again (AWS, too, reports
  real-time events to CloudWatch per period once).

A report goes to ``<s3DataDestination.path>/AggregatedAttributionMetrics - <ImportMethod> - <Timestamp>.csv``
(S3 or a local folder) with the header ``METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,
TIMESTAMP``. ``<Timestamp>`` is epoch milliseconds — of the import job's creation (BULK) or of the end of the last
window covered (PUT) — so a re-run after a crash overwrites the same file. The ``TIMESTAMP`` column is the
window's start in epoch seconds. The source of an event is its EVENT_ATTRIBUTION_SOURCE (PutEvents fills it from
``metricAttribution.eventAttributionSource`` or, failing that, from the ``recommendationId``'s campaign), else
the campaign of its RECOMMENDATION_ID (data/recommendations.py keeps them for two days), else ``SOURCE_NAME_UNDEFINED``; at most 100
sources per report (spec §11), the most frequent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import polars as pl

from ..services import Services
from ..data.access import Access
from ..data.metadata import Record, new_record
from .attribution_records import KIND, STATE_KIND, Expression, group_attribution, output_path, parse_expression, state_arn
from ..data.schema import Schema
from .base import JobFailed
from .dataset_export import export_schema, output_folder, write_csv

log = logging.getLogger("openpersonalize.attribution")
WINDOW_SECONDS = 900  # "aggregated per 15 minutes" (AWS: measuring impact of recommendations)
UNDEFINED_SOURCE = "SOURCE_NAME_UNDEFINED"
MAX_SOURCES = 100  # spec §11: event attribution sources per metric attribution
SOURCE = "EVENT_ATTRIBUTION_SOURCE"
WINDOW = "__window"
ITEM_PREFIX = "__items__"
ServedBy = Callable[[list[str]], dict[str, str]]  # recommendation ids → their campaign or recommender ARN
REPORT_SCHEMA = {
    "METRIC_NAME": pl.String(),
    "EVENT_TYPE": pl.String(),
    "VALUE": pl.Float64(),
    "MATH_FUNCTION": pl.String(),
    SOURCE: pl.String(),
    "TIMESTAMP": pl.Int64(),
}


# ---- the computation -----------------------------------------------------------------------------------------


def aggregate(
    interactions: pl.DataFrame, items: pl.DataFrame | None, metrics: list[dict[str, Any]], served_by: ServedBy | None = None,
) -> pl.DataFrame:
    """The report rows of ``metrics`` over ``interactions`` (Items columns joined on ITEM_ID from ``items``);
    ``served_by`` resolves recommendation ids to their campaign or recommender (none resolved without it)."""
    expressions = [parse_expression(m["expression"], "expression") for m in metrics]
    frame = _with_items(_attributed(interactions, served_by), items, expressions)
    parts = [_metric_rows(frame, metric, expression) for metric, expression in zip(metrics, expressions, strict=True)]
    report = pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema=REPORT_SCHEMA)
    return report.sort("METRIC_NAME", "TIMESTAMP", SOURCE)


def _attributed(interactions: pl.DataFrame, served_by: ServedBy | None) -> pl.DataFrame:
    """The interactions with their source and 15-minute window, restricted to the MAX_SOURCES most frequent sources."""
    frame = interactions.with_columns(
        _source(interactions, served_by).alias(SOURCE),
        (pl.col("TIMESTAMP") // WINDOW_SECONDS * WINDOW_SECONDS).cast(pl.Int64).alias(WINDOW),
    )
    counts = frame.group_by(SOURCE).len().sort(["len", SOURCE], descending=[True, False])
    if counts.height <= MAX_SOURCES:
        return frame
    log.warning("%d event attribution sources; reporting the %d most frequent", counts.height, MAX_SOURCES)
    return frame.filter(pl.col(SOURCE).is_in(counts[SOURCE].head(MAX_SOURCES).implode()))


def _source(interactions: pl.DataFrame, served_by: ServedBy | None) -> pl.Expr:
    """EVENT_ATTRIBUTION_SOURCE wins over the recommendationId's campaign; neither → SOURCE_NAME_UNDEFINED."""
    candidates = [pl.col(SOURCE)] if SOURCE in interactions.columns else []
    if "RECOMMENDATION_ID" in interactions.columns and served_by is not None:
        served = served_by(interactions["RECOMMENDATION_ID"].drop_nulls().unique().to_list())
        if served:
            candidates.append(pl.col("RECOMMENDATION_ID").replace_strict(served, default=None, return_dtype=pl.String))
    return pl.coalesce([*candidates, pl.lit(UNDEFINED_SOURCE)])


def _with_items(frame: pl.DataFrame, items: pl.DataFrame | None, expressions: list[Expression]) -> pl.DataFrame:
    """Join the Items columns that SUM(Items.<col>) metrics read, as ``__items__<lower-case name>``."""
    wanted = {e.column.lower() for e in expressions if e.dataset == "ITEMS" and e.column is not None}
    if not wanted:
        return frame
    present = {c.lower(): c for c in (items.columns if items is not None else [])}
    if items is None or "item_id" not in present:
        return frame.with_columns([pl.lit(None, pl.Float64).alias(ITEM_PREFIX + c) for c in wanted])
    table = items.select(
        pl.col(present["item_id"]).alias("ITEM_ID"),
        *[(pl.col(present[c]) if c in present else pl.lit(None)).cast(pl.Float64).alias(ITEM_PREFIX + c) for c in wanted],
    ).unique("ITEM_ID", keep="last", maintain_order=True)
    return frame.join(table, on="ITEM_ID", how="left")


def _value(frame: pl.DataFrame, expression: Expression) -> pl.Expr:
    if expression.function == "samplecount" or expression.column is None:
        return pl.len().cast(pl.Float64)
    if expression.dataset == "ITEMS":
        return pl.col(ITEM_PREFIX + expression.column.lower()).sum().cast(pl.Float64)
    columns = {c.lower(): c for c in frame.columns}
    column = columns.get(expression.column.lower())
    # Interactions schemas cannot change (UpdateDataset refuses them), so a checked column is always there.
    return pl.lit(None, pl.Float64) if column is None else pl.col(column).cast(pl.Float64).sum()


def _metric_rows(frame: pl.DataFrame, metric: dict[str, Any], expression: Expression) -> pl.DataFrame:
    rows = frame.filter(pl.col("EVENT_TYPE") == metric["eventType"])
    totals = rows.group_by(SOURCE, WINDOW).agg(_value(rows, expression).alias("VALUE"))
    return totals.select(
        pl.lit(metric["metricName"], pl.String).alias("METRIC_NAME"),
        pl.lit(metric["eventType"], pl.String).alias("EVENT_TYPE"),
        pl.col("VALUE").fill_null(0.0),
        pl.lit(expression.function, pl.String).alias("MATH_FUNCTION"),  # lower-case, as in AWS's reports
        pl.col(SOURCE),
        pl.col(WINDOW).alias("TIMESTAMP"),
    )


# ---- reading the group's data --------------------------------------------------------------------------------


def _group_dataset(services: Services, group_arn: str, dataset_type: str) -> Record | None:
    for dataset in services.store.list("dataset", parent=group_arn):
        if dataset.body.get("datasetType") == dataset_type:
            return dataset
    return None


def _items(services: Services, group_arn: str, metrics: list[dict[str, Any]]) -> pl.DataFrame | None:
    """The group's Items (latest record per id) when a metric sums an Items column."""
    if not any(parse_expression(m["expression"], "expression").dataset == "ITEMS" for m in metrics):
        return None
    dataset = _group_dataset(services, group_arn, "ITEMS")
    if dataset is None:
        return None
    return services.data.read_dataset(dataset.arn, export_schema(services, dataset.arn), origin="ALL")


def report(services: Services, attribution: Record, interactions: pl.DataFrame) -> pl.DataFrame:
    """The attribution's report over these interaction rows."""
    metrics = attribution.body["_metrics"]
    items = _items(services, attribution.body["datasetGroupArn"], metrics)
    return aggregate(interactions, items, metrics, services.data.recommendations.sources)


def write_report(frame: pl.DataFrame, path: str, method: str, stamp: float, access: Access) -> str:
    """Write the report file under ``path`` (S3 or local, where ``access`` allows); returns where it went."""
    name = f"AggregatedAttributionMetrics - {method} - {int(round(stamp * 1000))}.csv"
    target = output_folder(path, name, access)
    write_csv(frame, target)
    return str(target)


def _access(services: Services, attribution: Record) -> Access:
    """The policy for the attribution's reports, under the role of its metricsOutputConfig."""
    return Access.of(services.settings, attribution.body.get("metricsOutputConfig", {}).get("roleArn"))


# ---- BULK: after an import job -------------------------------------------------------------------------------


def publish_import_report(services: Services, job: dict[str, Any], job_key: str) -> str | None:
    """The BULK report of an Interactions import job (its DescribeDatasetImportJob body and commit key).

    The import itself has already committed; a report that cannot be written is recorded as the metric
    attribution's failureReason rather than failing an import whose rows landed.
    """
    dataset = services.store.get(job["datasetArn"], "dataset")
    attribution = None if dataset is None else group_attribution(services.store, dataset.body["datasetGroupArn"])
    path = None if attribution is None else output_path(attribution)
    if dataset is None or attribution is None or path is None:
        log.warning("import %s asked for a metrics report, but no metric attribution publishes files", job["datasetImportJobArn"])
        return None
    try:
        schema: Schema = export_schema(services, dataset.arn)
        frame = report(services, attribution, services.data.read_import(dataset.arn, schema, job_key))
        written = write_report(frame, path, "BULK", float(job["creationDateTime"]), _access(services, attribution))
    except JobFailed as failure:
        _record_failure(services, attribution, "BULK", str(failure))
        return None
    _clear_failure(services, attribution)
    return written


# ---- PUT: periodically ---------------------------------------------------------------------------------------


def publish_put_reports(services: Services, now: float | None = None) -> list[str]:
    """Publish every PUT report that is due at ``now``; returns where the files went."""
    now = time.time() if now is None else now
    written = []
    for attribution in services.store.list(KIND, statuses=("ACTIVE",)):
        try:
            target = _publish_put(services, attribution, now)
        except Exception:  # the scheduler runs in the worker loop: one bad attribution must not stop it
            log.exception("PUT metrics report of %s failed", attribution.arn)
            continue
        if target is not None:
            written.append(target)
    return written


def _state(services: Services, attribution: Record) -> tuple[float, float]:
    """(end of the windows already reported, time of the last publish)."""
    state = services.store.get(state_arn(attribution.arn), STATE_KIND)
    if state is None:
        return attribution.created // WINDOW_SECONDS * WINDOW_SECONDS, attribution.created
    return float(state.body["putReportedUntil"]), float(state.body["lastPublished"])


def _save_state(services: Services, attribution: Record, until: float, now: float) -> None:
    arn, body = state_arn(attribution.arn), {"putReportedUntil": until, "lastPublished": now}
    if services.store.get(arn, STATE_KIND) is None:
        services.store.create(new_record(STATE_KIND, arn, attribution.name, attribution.arn, body, {}))
    else:
        services.store.update(arn, body)


def _publish_put(services: Services, attribution: Record, now: float) -> str | None:
    path = output_path(attribution)
    until, last = _state(services, attribution)
    end = now // WINDOW_SECONDS * WINDOW_SECONDS  # only completed windows: none is reported twice
    if path is None or now < last + services.settings.attribution_report_seconds or end <= until:
        return None
    dataset = _group_dataset(services, attribution.body["datasetGroupArn"], "INTERACTIONS")
    target = None
    try:
        if dataset is not None:
            rows = services.data.read_dataset(dataset.arn, export_schema(services, dataset.arn), origin="PUT")
            rows = rows.filter(pl.col("TIMESTAMP").is_between(until, end, closed="left"))
            frame = report(services, attribution, rows)
            target = write_report(frame, path, "PUT", end, _access(services, attribution)) if frame.height else None
    except JobFailed as failure:
        _record_failure(services, attribution, "PUT", str(failure))
        return None
    _save_state(services, attribution, end, now)
    _clear_failure(services, attribution)
    return target


def _record_failure(services: Services, attribution: Record, method: str, reason: str) -> None:
    log.warning("%s metrics report of %s failed: %s", method, attribution.arn, reason)
    services.store.update(attribution.arn, {"failureReason": f"The {method} metrics report could not be published: {reason}"[:1000]})


def _clear_failure(services: Services, attribution: Record) -> None:
    if "failureReason" in attribution.body:
        services.store.update(attribution.arn, {"failureReason": None})
