"""Deletion jobs: not built yet (placeholder while the module is written)."""

from __future__ import annotations

from typing import Any

from ..api.errors import not_available
from .context import RequestContext


def create_data_deletion_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateDataDeletionJob."""
    raise not_available("CreateDataDeletionJob")


def describe_data_deletion_job(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeDataDeletionJob."""
    raise not_available("DescribeDataDeletionJob")


def list_data_deletion_jobs(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListDataDeletionJobs."""
    raise not_available("ListDataDeletionJobs")
