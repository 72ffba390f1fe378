"""Status transitions of metadata-only resources (dataset groups, datasets, trackers…): near-instant."""

from __future__ import annotations

from collections.abc import Callable

from ..statuses import ACTIVE, CREATE_IN_PROGRESS, CREATE_PENDING, DELETE_IN_PROGRESS, DELETE_PENDING
from ..services import Services
from ..data.metadata import Job
from .base import Progress



def _dataset_files(services: Services, arn: str) -> None:
    services.data.drop_dataset(arn)
    # PUT rows live in the event log, outside the dataset directory: a dataset re-created under the same
    # ARN (same group and type) must not inherit them.
    services.data.events.drop(arn)


def _solution_versions(services: Services, arn: str) -> None:
    """Deleting a solution deletes all its versions (spec §2.5) and their model files."""
    for version in services.store.list("solution-version", parent=arn):
        services.data.artifacts.delete(version.arn)
        services.store.remove(version.arn)


# job payload "cleanup" → what must go with the record (files, child records).
CLEANUPS: dict[str, Callable[[Services, str], None]] = {
    "dataset": _dataset_files,
    "solution": _solution_versions,
}


def activate(services: Services, job: Job, progress: Progress) -> None:
    """CREATE PENDING → ACTIVE for resources that need no heavy work."""
    # Conditional: a delete requested meanwhile (DELETE PENDING) must not be overwritten by ACTIVE.
    services.store.update_if(job.arn, (CREATE_PENDING, CREATE_IN_PROGRESS), {"status": job.payload.get("status", ACTIVE)})


def remove(services: Services, job: Job, progress: Progress) -> None:
    """DELETE PENDING → DELETE IN_PROGRESS → gone, running the kind's cleanup in between."""
    record = services.store.get(job.arn)
    if record is None or record.status not in (DELETE_PENDING, DELETE_IN_PROGRESS):
        return
    services.store.update(job.arn, {"status": DELETE_IN_PROGRESS})
    cleanup = job.payload.get("cleanup")
    if cleanup is not None:
        CLEANUPS[cleanup](services, job.arn)
    services.store.remove(job.arn)
