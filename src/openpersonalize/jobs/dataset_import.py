"""The "dataset_import" runner: CREATE PENDING → CREATE IN_PROGRESS → ACTIVE | CREATE FAILED (spec §2.4).

Resumable: after a crash the job runs again from scratch. The data store's manifest swap is the only commit
point and remembers the job's key, so a re-run after a crash that happened past the commit only marks the
job ACTIVE, and one before it rewrites the same staged files.
"""

from __future__ import annotations

import logging
from typing import Any

from ..statuses import ACTIVE, CREATE_IN_PROGRESS, IN_FLIGHT
from ..services import Services
from ..data.metadata import Job
from ..data import insights
from ..data.access import Access
from ..data.readers import BadData, fetch
from ..data.schema import Schema, parse_schema
from ..data.store import dataset_type_of
from . import attribution
from .base import JobFailed, Progress, require_active

log = logging.getLogger("openpersonalize.jobs")
MIN_INTERACTIONS = 1000  # per import job, FULL or INCREMENTAL (spec §2.4, §11)
MAX_BYTES = {"FULL": 100 * 2**30, "INCREMENTAL": 1 * 2**30}  # bulk size per job (spec §11)


def _job_key(body: dict[str, Any]) -> str:
    # Import jobs cannot be deleted, so the ARN is unique; the creation time guards a wiped metadata store.
    return f"{body['datasetImportJobArn']}@{body['creationDateTime']}"


def _schema_of(services: Services, dataset_arn: str) -> Schema:
    dataset = services.store.get(dataset_arn, "dataset")
    if dataset is None:
        raise JobFailed(f"The dataset {dataset_arn} no longer exists.")
    schema_record = services.store.get(dataset.body["schemaArn"], "schema")
    if schema_record is None:
        raise JobFailed(f"The schema {dataset.body['schemaArn']} of dataset {dataset_arn} no longer exists.")
    return parse_schema(schema_record.body["schema"])


def _import(services: Services, body: dict[str, Any], key: str, progress: Progress) -> None:
    dataset_arn, mode = body["datasetArn"], body["importMode"]
    schema = _schema_of(services, dataset_arn)
    interactions = dataset_type_of(dataset_arn, schema) == "INTERACTIONS"
    min_rows = MIN_INTERACTIONS if interactions and not services.settings.relaxed_minimums else 0
    try:
        access = Access.of(services.settings, body.get("roleArn"))
        location = access.source(body["dataSource"]["dataLocation"])  # refusal: AccessDenied, a ValueError
        with fetch(location, services.data.scratch_dir(key), access) as sources:
            services.data.import_bulk(dataset_arn, schema, sources, mode, key, min_rows, progress, MAX_BYTES[mode])
    except (BadData, ValueError) as exc:  # ValueError: parse_location's message for the user
        raise JobFailed(str(exc)) from None


def run(services: Services, job: Job, progress: Progress) -> None:
    """Import the job's dataLocation into its dataset, or fail with a reason naming the bad input."""
    record = services.store.get(job.arn, "dataset-import-job")
    if record is None or record.status not in IN_FLIGHT:
        return  # already finished (a duplicate or re-queued job)
    require_active(services, record.body["datasetArn"], "dataset", "dataset")  # CreateDataset may have come a moment ago
    services.store.update(job.arn, {"status": CREATE_IN_PROGRESS})
    key = _job_key(record.body)
    if not services.data.has_committed(record.body["datasetArn"], key):
        _import(services, record.body, key, progress)
    _write_insights(services, record.body["datasetArn"])
    if record.body.get("publishAttributionMetricsToS3"):
        attribution.publish_import_report(services, record.body, key)  # before ACTIVE: done means published
    services.store.update(job.arn, {"status": ACTIVE})


def _write_insights(services: Services, dataset_arn: str) -> None:
    """The console's data insights of the whole dataset after this import (data/insights.py). Worth a second at 1M
    rows; a failure here is logged and leaves the import ACTIVE (the data is in, only the summary is missing)."""
    try:
        schema = _schema_of(services, dataset_arn)
        frame = services.data.read_dataset(dataset_arn, schema, origin="BULK")
        insights.write(services.data.objects, services.data.dataset_key(dataset_arn), insights.compute(frame, dataset_type_of(dataset_arn, schema)))
    except Exception:  # the summary is a convenience; the import itself succeeded
        log.exception("data insights of %s could not be computed", dataset_arn)
