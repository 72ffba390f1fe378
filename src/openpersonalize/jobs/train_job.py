"""The "train" job of a solution version: CREATE IN_PROGRESS → a full training (jobs/training.py) or an update of
the newest model (jobs/updates.py, trainingMode UPDATE) → ACTIVE, or CREATE STOPPED when stopped meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..data.metadata import Job, Record
from ..services import Services
from ..statuses import ACTIVE, CREATE_IN_PROGRESS, CREATE_PENDING, CREATE_STOPPED, CREATE_STOPPING
from . import training, updates
from .base import Progress, require_active, require_imports_done


def run(services: Services, job: Job, progress: Progress, *, on_active: Callable[[Services, Record], None]) -> None:
    """The "train" job; ``on_active`` is told of the version once it is ACTIVE (campaigns that follow it)."""
    version = services.store.get(job.arn, "solution-version")
    if version is None or version.status not in (CREATE_PENDING, CREATE_IN_PROGRESS):
        return  # deleted or stopped before it started
    require_active(services, version.body["solutionArn"], "solution", "solution")  # CreateSolutionVersion may come first
    require_imports_done(services, version.body["datasetGroupArn"])
    if services.store.update_if(job.arn, (CREATE_PENDING, CREATE_IN_PROGRESS), {"status": CREATE_IN_PROGRESS}) is None:
        return  # stopped between the check and now
    started = time.monotonic()
    try:
        if version.body.get("trainingMode") == "UPDATE":  # a warm start of the newest model, not a retrain
            changes = updates.train_update(services, version)
        else:
            changes = training.train(services, version, progress)
    except training.Stopped:
        services.store.update_if(job.arn, (CREATE_STOPPING,), {"status": CREATE_STOPPED})
        return
    hours = (time.monotonic() - started) / 3600
    # Conditional, so a stop that arrives during the last step still ends CREATE STOPPED.
    active = services.store.update_if(job.arn, (CREATE_IN_PROGRESS,), {**changes, "status": ACTIVE, "trainingHours": hours})
    if active is None:
        services.store.update_if(job.arn, (CREATE_STOPPING,), {"status": CREATE_STOPPED})
    else:
        on_active(services, active)
