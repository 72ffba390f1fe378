"""The uniform job interface (habit 19): every runner is ``run(services, job, progress) -> None``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..statuses import ACTIVE, CREATE_FAILED, IN_FLIGHT
from ..services import Services
from ..data.metadata import Job, Record


class JobFailed(Exception):
    """A job ended for a reason the user must see in ``failureReason`` (bad data, missing file…)."""


class LeaseLost(Exception):
    """The worker running a job lost it to another (its lease ran out: it stalled or was cut off from the
    store); it stops without writing anything more, the new holder runs the job."""


class Progress(Protocol):
    """How far a job is: ``fraction`` done in [0, 1] and, for training, its ``stage`` (phase, epoch…).

    The worker's implementation (jobs/progress.py) writes it to the resource record and heart-beats the job.
    """

    def __call__(self, fraction: float, stage: Mapping[str, Any] | None = None) -> None: ...


def no_progress(fraction: float, stage: Mapping[str, Any] | None = None) -> None:
    """The Progress of a runner called outside the worker (tests, benchmarks): reports go nowhere."""


@dataclass(frozen=True)
class Runner:
    run: Callable[[Services, Job, Progress], None]
    failed_status: str = CREATE_FAILED
    # Safe to start again from scratch after a crash (writes are atomic and idempotent).
    resumable: bool = True


@dataclass(frozen=True)
class Hooks:
    """What control does when a job changes a resource it serves; control installs them (jobs never import it)."""

    version_active: Callable[[Services, Record], None]  # a solution version became ACTIVE: campaigns may follow it


def mark_failed(services: Services, job: Job, runner: Runner, reason: str) -> None:
    if services.store.get(job.arn) is not None:
        services.store.update(job.arn, {"status": runner.failed_status, "failureReason": reason[:1000]})


class NotYet(Exception):
    """The job's inputs are not ready yet; the worker queues it again after ``delay`` seconds.

    Control accepts work on resources created a moment ago, as AWS does: a version of a solution still CREATE
    PENDING, an import into a dataset still CREATE PENDING, a training while an import of its group runs. The
    job waits in the queue, not on a worker thread, so waiting jobs never hold up the work they wait for.
    """

    def __init__(self, reason: str, delay: float = 0.2) -> None:
        super().__init__(reason)
        self.delay = delay


def require_active(services: Services, arn: str, kind: str, label: str) -> None:
    """NotYet while the resource is CREATE PENDING or IN_PROGRESS; JobFailed unless it then is ACTIVE."""
    record = services.store.get(arn, kind)
    if record is None:
        raise JobFailed(f"The {label} {arn} no longer exists.")
    if record.status in IN_FLIGHT:
        raise NotYet(f"the {label} {arn} is {record.status}")
    if record.status != ACTIVE:
        raise JobFailed(f"The {label} {arn} is {record.status}; it must be ACTIVE.")


def require_imports_done(services: Services, group_arn: str) -> None:
    """NotYet while an import into one of the group's datasets is pending or running: a training requested
    after an import reads what that import brings (client code need not poll the import first)."""
    for dataset in services.store.list("dataset", parent=group_arn):
        running = services.store.list("dataset-import-job", parent=dataset.arn, statuses=IN_FLIGHT)
        if running:
            raise NotYet(f"the import {running[0].arn} is {running[0].status}", delay=0.5)
