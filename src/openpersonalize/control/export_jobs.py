"""Export jobs: not built yet (placeholder while the module is written)."""

from __future__ import annotations

from typing import Any

from ..api.errors import not_available
from .context import RequestContext


def create_dataset_export_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateDatasetExportJob."""
    raise not_available("CreateDatasetExportJob")


def describe_dataset_export_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeDatasetExportJob."""
    raise not_available("DescribeDatasetExportJob")


def list_dataset_export_jobs(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListDatasetExportJobs."""
    raise not_available("ListDatasetExportJobs")
