"""The ``data-deletion`` job: remove listed users' rows from every dataset of a dataset group (spec §2.4).

Input: CSV with a single ``USER_ID`` column, at one file or under a folder/prefix (recursively, every ``.csv``),
at most 100 MB in total (spec §11), read through data/readers.py like an import (s3://, http(s)://, file://,
absolute paths). ``DataStore.delete_users`` removes bulk and individually imported rows, each an atomic rewrite;
deleting users already gone removes nothing, so a job interrupted by a crash can safely run again (the runner is
resumable).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..services import Services
from ..data.metadata import Job
from ..data.access import Access
from ..data.readers import BadData, Source, csv_to_parquet, fetch, read_header
from ..data.schema import Field, Schema, parse_schema
from .base import JobFailed, Progress

__all__ = ["FAILED", "run", "read_user_ids", "delete_from_group"]

KIND = "data-deletion-job"
JOB_KIND = "data-deletion"  # the runner kind (jobs/runners.py)
# Deletion jobs have their own statuses (spec §3.2): PENDING → IN_PROGRESS → COMPLETED | FAILED.
PENDING, IN_PROGRESS, COMPLETED, FAILED = "PENDING", "IN_PROGRESS", "COMPLETED", "FAILED"
MAX_INPUT_BYTES = 100 * 1024 * 1024  # spec §11: data deletion input size
USER_ID = "USER_ID"
# The input file's own schema: one non-null string id (≤256 characters, checked by the CSV reader).
INPUT_SCHEMA = Schema(record_name="DataDeletionInput", fields=(Field(USER_ID, "string"),))


def _check_size(sources: list[Source], data_location: str) -> None:
    total = sum(source.path.stat().st_size for source in sources)
    if total > MAX_INPUT_BYTES:
        raise JobFailed(
            f"The input at {data_location} is {total} bytes; a data deletion job reads at most "
            f"{MAX_INPUT_BYTES // 2**20} MB."
        )


def _user_ids(source: Source, scratch: Path, index: int) -> set[str]:
    header = read_header(source)
    if header != [USER_ID]:
        raise BadData(f"{source.label}: the input CSV must have exactly one column, {USER_ID}; found {header}.")
    typed = scratch / f"user-ids-{index:06d}.parquet"  # never beside the user's own input file
    try:
        csv_to_parquet(source, INPUT_SCHEMA, typed)  # names the row of an empty or over-long id
        return set(pl.read_parquet(typed, columns=[USER_ID]).get_column(USER_ID).to_list())
    finally:
        typed.unlink(missing_ok=True)


def read_user_ids(services: Services, job_arn: str, data_location: str, role: str | None) -> set[str]:
    """Every USER_ID of the input; any problem with it is a JobFailed naming the file (and row)."""
    try:
        access = Access.of(services.settings, role)
        location = access.source(data_location)  # refusal: AccessDenied, a ValueError
        scratch = services.data.scratch_dir(job_arn)
        with fetch(location, scratch, access) as sources:
            _check_size(sources, data_location)
            users: set[str] = set()
            for index, source in enumerate(sources):
                users |= _user_ids(source, scratch, index)
            return users
    except (ValueError, BadData) as error:
        raise JobFailed(str(error)) from None


def delete_from_group(services: Services, group_arn: str, users: set[str]) -> int:
    """Remove ``users`` from every dataset of the group that has a USER_ID column; rows removed."""
    deleted = 0
    for dataset in services.store.list("dataset", parent=group_arn):
        schema = services.store.get(dataset.body["schemaArn"], "schema")
        if schema is None or parse_schema(schema.body["schema"]).field(USER_ID) is None:
            continue  # Items / Actions datasets hold no user rows
        deleted += services.data.delete_users(dataset.arn, users)
    return deleted


def run(services: Services, job: Job, progress: Progress) -> None:
    """PENDING → IN_PROGRESS → COMPLETED with numDeleted; any JobFailed makes it FAILED with the reason."""
    record = services.store.get(job.arn, KIND)
    if record is None or record.status not in (PENDING, IN_PROGRESS):
        return
    services.store.update(job.arn, {"status": IN_PROGRESS})
    users = read_user_ids(services, job.arn, record.body["dataSource"]["dataLocation"], record.body.get("roleArn"))
    progress(0.5)
    deleted = delete_from_group(services, record.body["datasetGroupArn"], users) if users else 0
    services.store.update(job.arn, {"status": COMPLETED, "numDeleted": deleted})
