"""Events: not built yet (placeholder while the module is written)."""

from __future__ import annotations

from typing import Any

from ..api.errors import not_available
from .context import RequestContext


def put_events(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """PutEvents."""
    raise not_available("PutEvents")


def put_items(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """PutItems."""
    raise not_available("PutItems")


def put_users(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """PutUsers."""
    raise not_available("PutUsers")


def put_actions(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """PutActions."""
    raise not_available("PutActions")


def put_action_interactions(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """PutActionInteractions."""
    raise not_available("PutActionInteractions")
