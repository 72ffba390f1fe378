"""Helpers every resource module shares: status strings, pagination, quotas, tags on create."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from ..errors import InvalidInputException, InvalidNextTokenException, LimitExceededException, TooManyTagsException
from ..statuses import ACTIVE, CREATE_FAILED, CREATE_IN_PROGRESS, CREATE_PENDING, CREATE_STOPPED, CREATE_STOPPING, DELETE_IN_PROGRESS, DELETE_PENDING, IN_FLIGHT  # noqa: F401 (re-exported for the resource modules)
from .context import RequestContext
from ..data.metadata import Record, new_record  # noqa: F401 (new_record re-exported for the resource modules)
from ..recipes import catalogue
from ..recipes.user_personalization import EXPLORATION_CONFIG


MAX_TAGS_PER_RESOURCE = 50
RESERVED_TAG_PREFIX = "aws:"
# itemExplorationConfig of campaigns, recommenders and batch jobs (spec §2.6, §2.7): key → allowed range.

# spec §11 defaults; each can be raised with OPENPERSONALIZE_QUOTA_<NAME>.
QUOTAS = {
    "active_schemas": 500,
    "active_dataset_groups": 5,
    "pending_import_jobs": 5,
    "pending_export_jobs": 5,
    "pending_batch_inference_jobs": 5,
    "pending_batch_segment_jobs": 5,
    "pending_solution_versions": 20,
    "active_solutions_per_group": 10,
    "active_campaigns_per_group": 5,
    "recommenders_per_group": 5,
    "filters_per_group": 30,
    "pending_deletion_jobs_per_group": 5,
}


def start_deletion(
    ctx: RequestContext, arn: str, job: str = "delete", payload: dict[str, Any] | None = None,
    conn: Any = None, changes: dict[str, Any] | None = None, *, only_from: tuple[str, ...] | None = None,
) -> bool:
    """DELETE PENDING now; the deletion job runs after ``settings.delete_seconds`` (see config.Settings).

    With ``only_from``, the status changes only if it is one of those (one conditional write: of two concurrent
    deletes, one wins); False when it was not.
    """
    update = {"status": DELETE_PENDING, **(changes or {})}
    if only_from is None:
        ctx.store.update(arn, update, conn)
    elif ctx.store.update_if(arn, only_from, update) is None:
        return False
    ctx.store.enqueue(job, arn, payload, delay=ctx.services.settings.delete_seconds, conn=conn)
    return True


def now() -> float:
    return time.time()


def quota(ctx: RequestContext, name: str) -> int:
    return ctx.services.settings.quota_overrides.get(name, QUOTAS[name])


def check_quota(ctx: RequestContext, name: str, current: int, message: str) -> None:
    limit = quota(ctx, name)
    if current >= limit:
        raise LimitExceededException(message.format(limit=limit))


def check_number(member: str, text: str, low: float, high: float | None) -> float:
    """A number sent as a string (the wire model cannot express its range), within [low, high]."""
    try:
        value = float(text)
    except ValueError:
        raise InvalidInputException(f"{member} must be a number; got {text!r}.") from None
    if value < low or (high is not None and value > high):
        bound = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
        raise InvalidInputException(f"{member} must be {bound}; got {text!r}.")
    return value


def check_exploration(member: str, exploration: dict[str, str]) -> None:
    """An itemExplorationConfig map: known keys, numbers in range."""
    for key, text in exploration.items():
        if key not in EXPLORATION_CONFIG:
            raise InvalidInputException(f"{member} has unknown key {key!r}; allowed: {', '.join(EXPLORATION_CONFIG)}.")
        declared = EXPLORATION_CONFIG[key]
        check_number(f"{member}.{key}", text, float(declared.low or 0.0), declared.high)


def check_serving_config(member: str, config: dict[str, Any], recipe_arn: str) -> None:
    """The options a campaign or a batch inference job passes to its model (``member``: campaignConfig or
    batchInferenceJobConfig): exploration for the recipes that explore, rankingInfluence for those that take it;
    values are checked here since the wire model cannot express their ranges."""
    exploration = config.get("itemExplorationConfig") or {}
    capabilities = catalogue.recipe(recipe_arn).capabilities
    if exploration and not capabilities.exploration:
        raise InvalidInputException(
            f"{member}.itemExplorationConfig applies to User-Personalization recipes only, not {recipe_arn}."
        )
    check_exploration(f"{member}.itemExplorationConfig", exploration)
    if config.get("rankingInfluence") and not capabilities.ranking_influence:
        raise InvalidInputException(
            f"{member}.rankingInfluence applies to {catalogue.names_of(lambda r: r.capabilities.ranking_influence)} "
            f"only, not {recipe_arn}."
        )


def checked_tags(tags: list[dict[str, str]]) -> dict[str, str]:
    """A request's tag list as a dict, by AWS's tag rules: each key once, none with the reserved ``aws:`` prefix
    (IAM user guide, "Tagging best practices": the prefix is reserved for AWS use)."""
    keys = [t["tagKey"] for t in tags]
    reserved = [k for k in keys if k.lower().startswith(RESERVED_TAG_PREFIX)]
    if reserved:
        raise InvalidInputException(f"Tag keys starting with 'aws:' are reserved for AWS use: {reserved[:5]}.")
    if len(set(keys)) != len(keys):
        raise InvalidInputException("Tag keys must be unique within a request; a key was given more than once.")
    return {t["tagKey"]: t["tagValue"] for t in tags}


def tags_from(params: dict[str, Any]) -> dict[str, str]:
    tags = checked_tags(params.get("tags", []))
    if len(tags) > MAX_TAGS_PER_RESOURCE:
        raise TooManyTagsException(f"A resource can have at most {MAX_TAGS_PER_RESOURCE} tags; {len(tags)} were given.")
    return tags


def pick(body: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """A summary: the listed keys of a Describe body."""
    return {k: body[k] for k in keys if k in body}


def _encode_token(kind: str, offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"k": kind, "o": offset})).decode()


def _decode_token(kind: str, token: str) -> int:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        if data["k"] != kind or not isinstance(data["o"], int) or data["o"] < 0:
            raise ValueError
        return int(data["o"])
    except Exception:  # any malformed or foreign token is the client's mistake
        raise InvalidNextTokenException(f"The nextToken {token!r} is not valid for this list.") from None


def paginate(
    ctx: RequestContext,
    params: dict[str, Any],
    kind: str,
    records: list[Record],
    key: str,
    summarise: Callable[[Record], dict[str, Any]],
) -> dict[str, Any]:
    """One page of ``records`` under ``key`` with an opaque nextToken (spec §1.8)."""
    offset = _decode_token(kind, params["nextToken"]) if "nextToken" in params else 0
    size = params.get("maxResults") or 100
    page = records[offset : offset + size]
    out: dict[str, Any] = {key: [summarise(r) for r in page]}
    if offset + size < len(records):
        out["nextToken"] = _encode_token(kind, offset + size)
    return out
