"""Tags: not built yet (placeholder while the module is written)."""

from __future__ import annotations

from typing import Any

from ..api.errors import not_available
from .context import RequestContext


def tag_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """TagResource."""
    raise not_available("TagResource")


def untag_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """UntagResource."""
    raise not_available("UntagResource")


def list_tags_for_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListTagsForResource."""
    raise not_available("ListTagsForResource")
