"""Schemas: CreateSchema / DescribeSchema / ListSchemas / DeleteSchema (spec §2.2, §4.1–4.3).

A schema is validated completely at create time and is usable at once: it has no status.
"""

from __future__ import annotations

from typing import Any

from ..errors import ResourceAlreadyExistsException, ResourceInUseException
from ..data.schema import Schema, parse_schema, validate_schema
from . import arns
from .common import IN_FLIGHT, check_quota, new_record, paginate, pick
from .context import RequestContext
from ..data.metadata import Record

KIND = "schema"
LABEL = "schema"
SUMMARY = ("name", "schemaArn", "creationDateTime", "lastUpdatedDateTime", "domain")


def require_schema(ctx: RequestContext, arn: str) -> Record:
    """The schema record, or ResourceNotFoundException."""
    return ctx.store.require(arn, KIND, LABEL)


def parsed(record: Record) -> Schema:
    """The typed form of a stored (already validated) schema."""
    return parse_schema(record.body["schema"])


def create_schema(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateSchema."""
    name, text, domain = params["name"], params["schema"], params.get("domain")
    validate_schema(parse_schema(text), domain)
    arn = arns.arn(ctx, KIND, name)
    body = {"name": name, "schemaArn": arn, "schema": text, **pick(params, ("domain",))}
    with ctx.store.transaction() as conn:  # checks and insert under the write lock: concurrent creates cannot both pass
        if ctx.store.get(arn) is not None:
            raise ResourceAlreadyExistsException(f"A schema with the name {name!r} already exists: {arn}.")
        check_quota(
            ctx, "active_schemas", ctx.store.count(KIND),
            f"Cannot create schema {name}: the account already has {{limit}} schemas.",
        )
        ctx.store.create(new_record(KIND, arn, name, None, body, {}), conn)
    return {"schemaArn": arn}


def describe_schema(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeSchema."""
    return {"schema": require_schema(ctx, params["schemaArn"]).body}


def list_schemas(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListSchemas."""
    records = ctx.store.list(KIND)
    return paginate(ctx, params, KIND, records, "schemas", lambda r: pick(r.body, SUMMARY))


def _users_of(ctx: RequestContext, arn: str) -> list[str]:
    """Datasets whose schema is ``arn``, or that are being updated to it."""
    users = []
    for dataset in ctx.store.list("dataset"):
        update = dataset.body.get("latestDatasetUpdate") or {}
        pending = update.get("schemaArn") if update.get("status") in IN_FLIGHT else None
        if arn in (dataset.body.get("schemaArn"), pending):
            users.append(dataset.arn)
    return users


def delete_schema(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteSchema."""
    arn = params["schemaArn"]
    # Under the write lock: a dataset cannot start using the schema between the check and the removal.
    with ctx.store.transaction() as conn:
        require_schema(ctx, arn)
        users = _users_of(ctx, arn)
        if users:
            raise ResourceInUseException(
                f"Cannot delete schema {arn}: it is used by the dataset(s) {', '.join(users)}. Delete them first."
            )
        ctx.store.remove(arn, conn)
    return {}
