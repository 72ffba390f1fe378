"""Dataset groups: not built yet (placeholder while the module is written)."""

from __future__ import annotations

from typing import Any

from ..api.errors import not_available
from .context import RequestContext


def create_dataset_group(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateDatasetGroup."""
    raise not_available("CreateDatasetGroup")


def describe_dataset_group(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeDatasetGroup."""
    raise not_available("DescribeDatasetGroup")


def list_dataset_groups(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListDatasetGroups."""
    raise not_available("ListDatasetGroups")


def delete_dataset_group(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteDatasetGroup."""
    raise not_available("DeleteDatasetGroup")
