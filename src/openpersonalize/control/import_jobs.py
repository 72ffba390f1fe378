"""Import jobs: not built yet (placeholder while the module is written)."""

from __future__ import annotations

from typing import Any

from ..api.errors import not_available
from .context import RequestContext


def create_dataset_import_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateDatasetImportJob."""
    raise not_available("CreateDatasetImportJob")


def describe_dataset_import_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeDatasetImportJob."""
    raise not_available("DescribeDatasetImportJob")


def list_dataset_import_jobs(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListDatasetImportJobs."""
    raise not_available("ListDatasetImportJobs")
