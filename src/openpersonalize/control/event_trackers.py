"""Event trackers: not built yet (placeholder while the module is written)."""

from __future__ import annotations

from typing import Any

from ..api.errors import not_available
from .context import RequestContext


def create_event_tracker(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateEventTracker."""
    raise not_available("CreateEventTracker")


def describe_event_tracker(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeEventTracker."""
    raise not_available("DescribeEventTracker")


def list_event_trackers(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListEventTrackers."""
    raise not_available("ListEventTrackers")


def delete_event_tracker(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteEventTracker."""
    raise not_available("DeleteEventTracker")
