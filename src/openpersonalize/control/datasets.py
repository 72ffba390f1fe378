"""Datasets: not built yet (placeholder while the module is written)."""

from __future__ import annotations

from typing import Any

from ..api.errors import not_available
from .context import RequestContext


def create_dataset(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateDataset."""
    raise not_available("CreateDataset")


def describe_dataset(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeDataset."""
    raise not_available("DescribeDataset")


def list_datasets(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListDatasets."""
    raise not_available("ListDatasets")


def delete_dataset(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteDataset."""
    raise not_available("DeleteDataset")


def update_dataset(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateDataset."""
    raise not_available("UpdateDataset")
