"""Tags: TagResource / UntagResource / ListTagsForResource on any resource record (spec §2.13).

Tags live beside the record (Record.tags), so every resource kind is taggable without knowing about tags;
Create* operations store their ``tags`` through common.tags_from.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputException, ResourceNotFoundException, TooManyTagKeysException, TooManyTagsException
from .common import MAX_TAGS_PER_RESOURCE, RESERVED_TAG_PREFIX, checked_tags
from .context import RequestContext
from ..data.metadata import Record


def _require_resource(ctx: RequestContext, arn: str) -> Record:
    record = ctx.store.get(arn)
    if record is None:
        raise ResourceNotFoundException(f"Could not find a resource with ARN {arn}.")
    return record


def tag_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """TagResource."""
    arn = params["resourceArn"]
    with ctx.store.transaction():  # read-modify-write of the tag set: two TagResource calls must not interleave
        record = _require_resource(ctx, arn)
        tags = {**record.tags, **checked_tags(params["tags"])}
        if len(tags) > MAX_TAGS_PER_RESOURCE:
            raise TooManyTagsException(
                f"Resource {arn} would have {len(tags)} tags; a resource can have at most {MAX_TAGS_PER_RESOURCE}."
            )
        ctx.store.set_tags(arn, tags)
    return {}


def untag_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """UntagResource."""
    arn, keys = params["resourceArn"], params["tagKeys"]
    if any(k.lower().startswith(RESERVED_TAG_PREFIX) for k in keys):
        raise InvalidInputException("Tag keys starting with 'aws:' are reserved for AWS use and cannot be removed.")
    if len(keys) > MAX_TAGS_PER_RESOURCE:
        raise TooManyTagKeysException(
            f"UntagResource was given {len(keys)} tag keys; at most {MAX_TAGS_PER_RESOURCE} can be removed at once."
        )
    with ctx.store.transaction():
        record = _require_resource(ctx, arn)
        ctx.store.set_tags(arn, {k: v for k, v in record.tags.items() if k not in set(keys)})
    return {}


def list_tags_for_resource(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListTagsForResource."""
    record = _require_resource(ctx, params["resourceArn"])
    return {"tags": [{"tagKey": k, "tagValue": v} for k, v in record.tags.items()]}
