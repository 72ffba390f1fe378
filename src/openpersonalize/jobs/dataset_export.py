"""The ``dataset-export`` job: write a dataset's rows as CSV files with a header row (spec §2.4).

Output goes to ``<path><jobName>/part-00000.csv``, ``part-00001.csv``, … (at most ``ROWS_PER_FILE`` rows each)
under the job's ``s3DataDestination.path`` — S3 through boto3 (so ``AWS_ENDPOINT_URL_S3`` and the other
standard settings apply), or a ``file://`` URL / local path. Part names are fixed, so re-running the job after
a crash overwrites rather than duplicates: the runner is resumable.

Which rows (spec §2.4, AWS "Exporting the training data"): ``BULK`` = rows from import jobs, ``PUT`` = rows
from the events/records APIs, each with exact-duplicate rows collapsed; ``ALL`` = both, keeping the latest
record per id for Items/Users and every interaction (``DataStore.read_dataset`` applies that rule).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import boto3
import polars as pl
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from ..statuses import ACTIVE, CREATE_IN_PROGRESS, IN_FLIGHT
from ..services import Services
from ..data.metadata import Job
from ..data.access import Access
from ..data.objects import LocalObjects, ObjectStore, S3Objects
from ..data.schema import Schema, parse_schema
from .base import JobFailed, Progress

KIND = "dataset-export-job"
JOB_KIND = "dataset-export"  # the runner kind (jobs/runners.py)
ROWS_PER_FILE = 1_000_000


@dataclass(frozen=True)
class Target:
    """Where one output file goes: an S3 object (``bucket`` set) or a local file."""

    bucket: str | None
    key: str  # the S3 key, or the local path

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.bucket is not None else self.key


def output_folder(path: str, job_name: str, access: Access) -> Target:
    """``<path><jobName>/``: the folder of this job's parts (same location forms as imports read), where
    ``access`` allows writing (AccessDenied, a ValueError, otherwise)."""
    try:
        location = access.destination(path)
    except ValueError as error:
        raise JobFailed(str(error).replace("dataLocation", "output path")) from None
    if location.scheme == "s3":
        prefix = location.key.rstrip("/")
        return Target(location.bucket, f"{prefix}/{job_name}" if prefix else job_name)
    if location.scheme == "local":
        folder = Path(location.path) / job_name
        try:  # checked again below the allowed folder: a symlink planted there may point out of it
            return Target(None, str(access.local_file(folder, str(folder), "write")))
        except ValueError as error:
            raise JobFailed(str(error)) from None
    raise JobFailed(f"The output path {path!r} cannot be written: use s3://bucket/prefix/ or a local path.")


def part(folder: Target, index: int) -> Target:
    name = f"part-{index:05d}.csv"
    return Target(folder.bucket, f"{folder.key}/{name}" if folder.bucket is not None else str(Path(folder.key) / name))


def s3_client() -> Any:
    # A fresh session per job: boto3's default session is not thread-safe across worker threads.
    return boto3.session.Session().client("s3")


def _s3_failure(action: str, location: Target, error: Exception) -> JobFailed:
    """A user-facing reason for an S3 error: the bucket/key and AWS's own code and message."""
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        detail = f"{info.get('Code', 'Error')}: {info.get('Message', '')}".rstrip(": ")
    else:
        detail = str(error)
    return JobFailed(f"Could not {action} {location}: {detail}")


def export_schema(services: Services, dataset_arn: str) -> Schema:
    dataset = services.store.get(dataset_arn, "dataset")
    if dataset is None:
        raise JobFailed(f"The dataset {dataset_arn} no longer exists.")
    schema = services.store.get(dataset.body["schemaArn"], "schema")
    if schema is None:
        raise JobFailed(f"The schema {dataset.body['schemaArn']} of dataset {dataset_arn} no longer exists.")
    return parse_schema(schema.body["schema"])


def exported_rows(services: Services, dataset_arn: str, mode: str) -> pl.DataFrame:
    """The rows to write, columns in schema order (the header row matches the schema)."""
    schema = export_schema(services, dataset_arn)
    frame = services.data.read_dataset(dataset_arn, schema, origin=mode).select(schema.names)
    if mode != "ALL":
        # One origin only: every record, except that exact duplicates are exported once.
        frame = frame.unique(maintain_order=True)
    return frame


def objects_of(target: Target) -> tuple[ObjectStore, str]:
    """The object store that holds ``target`` (its bucket, or its local folder) and the target's key there."""
    if target.bucket is not None:
        return S3Objects(target.bucket), target.key
    path = Path(target.key)
    return LocalObjects(path.parent), path.name


@contextmanager
def publish(target: Target) -> Iterator[IO[bytes]]:
    """A stream published at ``target`` only when the block ends cleanly (renamed into place, or uploaded, in
    parts when large): readers never see a half-written file. JobFailed names the target when it cannot be
    written."""
    try:
        objects, key = objects_of(target)
        with objects.writer(key) as out:
            yield out
    except OSError as error:
        raise JobFailed(f"Could not write {target}: {error.strerror or error}") from None
    except (BotoCoreError, ClientError, S3UploadFailedError) as error:  # the transfer manager wraps ClientError
        raise _s3_failure("write", target, error) from None


def write_csv(frame: pl.DataFrame, target: Target) -> None:
    """One CSV file (header row first) at ``target``; JobFailed names the target when it cannot be written."""
    with publish(target) as out:
        frame.write_csv(out)


def write_parts(frame: pl.DataFrame, folder: Target, progress: Progress) -> list[str]:
    """Write ``frame`` as CSV parts under ``folder``; returns where each part went."""
    written: list[str] = []
    parts = max(1, -(-frame.height // ROWS_PER_FILE))
    for index in range(parts):
        target = part(folder, index)
        write_csv(frame.slice(index * ROWS_PER_FILE, ROWS_PER_FILE), target)
        written.append(str(target))
        progress((index + 1) / parts)
    return written


def run(services: Services, job: Job, progress: Progress) -> None:
    """CREATE PENDING → CREATE IN_PROGRESS → ACTIVE; any JobFailed makes it CREATE FAILED with the reason."""
    record = services.store.get(job.arn, KIND)
    if record is None or record.status not in IN_FLIGHT:
        return
    services.store.update(job.arn, {"status": CREATE_IN_PROGRESS})
    body = record.body
    frame = exported_rows(services, body["datasetArn"], body["ingestionMode"])
    access = Access.of(services.settings, body.get("roleArn"))
    folder = output_folder(body["jobOutput"]["s3DataDestination"]["path"], body["jobName"], access)
    write_parts(frame, folder, progress)
    services.store.update(job.arn, {"status": ACTIVE})
