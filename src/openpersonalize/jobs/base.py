"""The uniform job interface (habit 19): every runner is ``run(services, job, progress) -> None``."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..statuses import ACTIVE, CREATE_FAILED, IN_FLIGHT
from ..services import Services
from ..data.metadata import Job, Record


class JobFailed(Exception):
    """A job ended for a reason the user must see in ``failureReason`` (bad data, missing file…)."""


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


PARENT_WAIT_SECONDS = 60.0


def await_active(services: Services, arn: str, kind: str, label: str) -> None:
    """Wait for a resource that is still CREATE PENDING to become ACTIVE, or fail the job.

    Control accepts a child of a resource created a moment ago (a version of a CREATE PENDING solution, an
    import into a CREATE PENDING dataset), as AWS does. The parent's activation job was queued first, so it
    runs first or on another worker thread, within milliseconds; the deadline guards only against a parent
    that never becomes ACTIVE.
    """
    deadline = time.monotonic() + PARENT_WAIT_SECONDS
    while True:
        record = services.store.get(arn, kind)
        if record is None:
            raise JobFailed(f"The {label} {arn} no longer exists.")
        if record.status == ACTIVE:
            return
        if record.status not in IN_FLIGHT or time.monotonic() > deadline:
            raise JobFailed(f"The {label} {arn} is {record.status}; it must be ACTIVE.")
        time.sleep(0.05)
