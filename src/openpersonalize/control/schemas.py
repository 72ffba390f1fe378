"""Schemas: not built yet (placeholder while the module is written)."""

from __future__ import annotations

from typing import Any

from ..api.errors import not_available
from .context import RequestContext


def create_schema(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateSchema."""
    raise not_available("CreateSchema")


def describe_schema(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeSchema."""
    raise not_available("DescribeSchema")


def list_schemas(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListSchemas."""
    raise not_available("ListSchemas")


def delete_schema(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteSchema."""
    raise not_available("DeleteSchema")
