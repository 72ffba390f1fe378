"""Status transitions of metadata-only resources (dataset groups, datasets, trackers…): near-instant."""

from __future__ import annotations

from ..control.common import ACTIVE, CREATE_IN_PROGRESS, CREATE_PENDING, DELETE_IN_PROGRESS, DELETE_PENDING
from ..control.context import Services
from ..control.store import Job
from .base import Progress

# kind → cleanup run when a resource of that kind is finally removed (e.g. its files).
CLEANUPS: dict[str, "list[object]"] = {}


def activate(services: Services, job: Job, progress: Progress) -> None:
    """CREATE PENDING → ACTIVE for resources that need no heavy work."""
    record = services.store.get(job.arn)
    if record is None or record.status not in (CREATE_PENDING, CREATE_IN_PROGRESS):
        return
    services.store.update(job.arn, {"status": job.payload.get("status", ACTIVE)})


def remove(services: Services, job: Job, progress: Progress) -> None:
    """DELETE PENDING → DELETE IN_PROGRESS → gone, running the kind's cleanup in between."""
    record = services.store.get(job.arn)
    if record is None or record.status not in (DELETE_PENDING, DELETE_IN_PROGRESS):
        return
    services.store.update(job.arn, {"status": DELETE_IN_PROGRESS})
    cleanup = job.payload.get("cleanup")
    if cleanup == "dataset":
        import shutil

        shutil.rmtree(services.data.dataset_dir(job.arn), ignore_errors=True)
    services.store.remove(job.arn)
