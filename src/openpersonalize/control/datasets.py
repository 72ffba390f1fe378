"""Datasets: CreateDataset / DescribeDataset / ListDatasets / DeleteDataset / UpdateDataset (spec §2.3).

One dataset per type per group (the type is in the ARN). The schema decides the type through its record name
and must belong to the group's domain. UpdateDataset swaps the schema of Items/Users datasets through the
"dataset-update" job, reporting progress in ``latestDatasetUpdate``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from ..errors import InvalidInputException, ResourceAlreadyExistsException, ResourceInUseException
from ..data.schema import check_evolution, dataset_type_name, normalise_dataset_type, record_dataset_type
from . import arns
from .common import (
    start_deletion,
    ACTIVE,
    CREATE_FAILED,
    CREATE_PENDING,
    IN_FLIGHT,
    new_record,
    now,
    paginate,
    pick,
    tags_from,
)
from .context import RequestContext, Services
from .dataset_groups import require_active_group, require_group
from .schemas import parsed, require_schema
from ..data.metadata import Job, Record

KIND = "dataset"
LABEL = "dataset"
SUMMARY = ("name", "datasetArn", "datasetType", "status", "creationDateTime", "lastUpdatedDateTime")
UPDATABLE = ("ITEMS", "USERS")  # schema replacement is for Items and Users datasets only (spec §2.3)
NOT_IN_DOMAIN = ("ACTIONS", "ACTION_INTERACTIONS")  # Next-Best-Action data is custom-only
UPDATE_JOB = "dataset-update"


def require_dataset(ctx: RequestContext, arn: str) -> Record:
    """The dataset record, or ResourceNotFoundException."""
    return ctx.store.require(arn, KIND, LABEL)


def _check_schema_fits(schema: Record, dataset_type: str, group: Record) -> None:
    """The schema's record name must declare ``dataset_type`` and its domain must be the group's."""
    declared = record_dataset_type(parsed(schema).record_name)
    if declared != dataset_type:
        raise InvalidInputException(
            f"Schema {schema.arn} describes {dataset_type_name(declared or 'unknown')} data (record name "
            f"{parsed(schema).record_name!r}) but the datasetType is {dataset_type_name(dataset_type)}."
        )
    schema_domain, group_domain = schema.body.get("domain"), group.body.get("domain")
    if schema_domain != group_domain:
        raise InvalidInputException(
            f"Schema {schema.arn} has domain {schema_domain or 'none (custom)'} but dataset group {group.arn} has "
            f"domain {group_domain or 'none (custom)'}; they must match."
        )


def _new_body(params: dict[str, Any], arn: str, dataset_type: str) -> dict[str, Any]:
    body = {
        "name": params["name"],
        "datasetArn": arn,
        "datasetGroupArn": params["datasetGroupArn"],
        "datasetType": dataset_type,
        "schemaArn": params["schemaArn"],
        "status": CREATE_PENDING,
    }
    if dataset_type == "ACTION_INTERACTIONS":
        # The dataset comes with its own action-interaction tracker: PutActionInteractions uses this id.
        body["trackingId"] = str(uuid.uuid4())
    return body


def create_dataset(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """CreateDataset."""
    dataset_type = normalise_dataset_type(params["datasetType"])
    tags = tags_from(params)
    with ctx.store.transaction() as conn:  # the group cannot start deleting while its dataset is added
        group = require_group(ctx, params["datasetGroupArn"])
        schema = require_schema(ctx, params["schemaArn"])
        require_active_group(ctx, group.arn)
        if dataset_type in NOT_IN_DOMAIN and group.body.get("domain"):
            raise InvalidInputException(
                f"{dataset_type_name(dataset_type)} datasets cannot be created in domain dataset group {group.arn} "
                f"({group.body['domain']}); use a custom dataset group."
            )
        _check_schema_fits(schema, dataset_type, group)
        arn = arns.dataset_arn(ctx, group.name, dataset_type)
        if ctx.store.get(arn) is not None:
            raise ResourceAlreadyExistsException(
                f"Dataset group {group.arn} already has a {dataset_type_name(dataset_type)} dataset: {arn}."
            )
        body = _new_body(params, arn, dataset_type)
        ctx.store.create(new_record(KIND, arn, params["name"], group.arn, body, tags), conn)
        ctx.store.enqueue("activate", arn, conn=conn)
    ctx.services.nudge()
    return {"datasetArn": arn}


def describe_dataset(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DescribeDataset."""
    return {"dataset": require_dataset(ctx, params["datasetArn"]).body}


def list_datasets(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """ListDatasets."""
    records = ctx.store.list(KIND, parent=params.get("datasetGroupArn"))
    return paginate(ctx, params, KIND, records, "datasets", lambda r: pick(r.body, SUMMARY))


def delete_dataset(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """DeleteDataset."""
    arn = params["datasetArn"]
    with ctx.store.transaction() as conn:  # no import job can be created between the check and the change
        dataset = require_dataset(ctx, arn)
        if dataset.status not in (ACTIVE, CREATE_FAILED):
            raise ResourceInUseException(
                f"Dataset {arn} is {dataset.status}; only an ACTIVE or CREATE FAILED dataset can be deleted."
            )
        running = ctx.store.list("dataset-import-job", parent=arn, statuses=IN_FLIGHT)
        if running:
            raise ResourceInUseException(
                f"Cannot delete dataset {arn} while its import job {running[0].arn} is {running[0].status}."
            )
        start_deletion(ctx, arn, payload={"cleanup": "dataset"}, conn=conn)  # the job also removes its files
    ctx.services.nudge()
    return {}


def _check_updatable(dataset: Record, schema_arn: str) -> None:
    dataset_type = dataset.body["datasetType"]
    if dataset_type not in UPDATABLE:
        raise InvalidInputException(
            f"Dataset {dataset.arn} is a {dataset_type_name(dataset_type)} dataset; only Items and Users datasets "
            "can be updated with a new schema."
        )
    if dataset.status != ACTIVE:
        raise ResourceInUseException(f"Dataset {dataset.arn} is {dataset.status}; it must be ACTIVE to be updated.")
    update = dataset.body.get("latestDatasetUpdate") or {}
    if update.get("status") in IN_FLIGHT:
        raise ResourceInUseException(
            f"Dataset {dataset.arn} already has a schema update to {update['schemaArn']} in progress."
        )
    if dataset.body["schemaArn"] == schema_arn:
        raise InvalidInputException(f"Dataset {dataset.arn} already uses schema {schema_arn}.")


def update_dataset(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """UpdateDataset."""
    arn, schema_arn = params["datasetArn"], params["schemaArn"]
    with ctx.store.transaction() as conn:
        dataset = require_dataset(ctx, arn)
        _check_updatable(dataset, schema_arn)
        schema = require_schema(ctx, schema_arn)
        _check_schema_fits(schema, dataset.body["datasetType"], require_group(ctx, dataset.parent or ""))
        check_evolution(parsed(require_schema(ctx, dataset.body["schemaArn"])), parsed(schema))
        stamp = now()
        update = {"schemaArn": schema_arn, "status": CREATE_PENDING, "creationDateTime": stamp, "lastUpdatedDateTime": stamp}
        ctx.store.update(arn, {"latestDatasetUpdate": update}, conn)
        ctx.store.enqueue(UPDATE_JOB, arn, {"schemaArn": schema_arn}, conn=conn)
    ctx.services.nudge()
    return {"datasetArn": arn}


def finish_update(services: Services, job: Job, progress: Callable[[float], None]) -> None:
    """The "dataset-update" job: the new schema takes over. Existing rows stay valid (added fields are nullable)."""
    record = services.store.get(job.arn, KIND)
    update = (record.body.get("latestDatasetUpdate") or {}) if record else {}
    if record is None or update.get("status") not in IN_FLIGHT or update.get("schemaArn") != job.payload["schemaArn"]:
        return  # the dataset was deleted, or this update was already applied
    done = {**update, "lastUpdatedDateTime": now()}
    if services.store.get(done["schemaArn"], "schema") is None:
        done.update(status=CREATE_FAILED, failureReason=f"Schema {done['schemaArn']} no longer exists.")
        services.store.update(job.arn, {"latestDatasetUpdate": done})
        return
    done["status"] = ACTIVE
    services.store.update(job.arn, {"schemaArn": done["schemaArn"], "latestDatasetUpdate": done})
