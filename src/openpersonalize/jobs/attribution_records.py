"""Metric attributions as stored (spec §2.11): their record kinds, the metric expression grammar, where reports go.

control/metric_attributions.py checks requests with these; jobs/attribution.py computes and writes the reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..data.metadata import Record, Store
from ..errors import InvalidInputException
from ..statuses import DELETE_IN_PROGRESS, DELETE_PENDING

KIND = "metric-attribution"
STATE_KIND = "metric-attribution-report"  # bookkeeping of the periodic PUT reports (jobs/attribution.py)
DATASETS = {"interactions": "INTERACTIONS", "items": "ITEMS"}  # the expression's dataset word → dataset type
EXPRESSION = re.compile(
    r"\s*(?:(?P<count>SAMPLECOUNT)\s*\(\s*\)|(?P<sum>SUM)\s*\(\s*(?P<dataset>[A-Za-z_]+)\s*\.\s*(?P<column>[A-Za-z_][A-Za-z0-9_]*)\s*\))\s*",
    re.IGNORECASE,
)
EXPRESSION_FORMS = "SAMPLECOUNT(), SUM(Items.<numeric column>) or SUM(Interactions.<numeric column>)"


@dataclass(frozen=True)
class Expression:
    """A parsed metric expression: ``function`` is "samplecount" or "sum" (the report's MATH_FUNCTION)."""

    function: str
    dataset: str | None = None  # INTERACTIONS or ITEMS for sum
    column: str | None = None  # the schema's spelling of the column


def state_arn(arn: str) -> str:
    """Where jobs/attribution.py keeps how far the periodic PUT reports of ``arn`` got."""
    return f"{arn}#reports"


def output_path(record: Record) -> str | None:
    """The report folder of a metric attribution, or None when it publishes no files."""
    destination = record.body.get("metricsOutputConfig", {}).get("s3DataDestination")
    return None if destination is None else str(destination["path"])


def group_attribution(store: Store, group_arn: str) -> Record | None:
    """The (at most one) metric attribution of a dataset group that is not being deleted."""
    for record in store.list(KIND, parent=group_arn):
        if record.status not in (DELETE_PENDING, DELETE_IN_PROGRESS):
            return record
    return None


def parse_expression(text: str, where: str) -> Expression:
    """``SAMPLECOUNT()`` / ``SUM(<Dataset>.<column>)`` (names case-insensitive); InvalidInput otherwise."""
    match = EXPRESSION.fullmatch(text)
    if match is None:
        raise InvalidInputException(f"Value {text!r} at '{where}' is not a metric expression: use {EXPRESSION_FORMS}.")
    if match["count"]:
        return Expression("samplecount")
    dataset = DATASETS.get(match["dataset"].lower())
    if dataset is None:
        raise InvalidInputException(
            f"Value {text!r} at '{where}' sums over dataset {match['dataset']!r}: only Items and Interactions columns can be summed."
        )
    return Expression("sum", dataset, match["column"])
