"""The uniform job interface (habit 19): every runner is ``run(services, job, progress) -> None``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..statuses import CREATE_FAILED
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
    record_changed: Callable[[str], None]  # a record changed in this process: drop request-path copies of it


def mark_failed(services: Services, job: Job, runner: Runner, reason: str) -> None:
    if services.store.get(job.arn) is not None:
        services.store.update(job.arn, {"status": runner.failed_status, "failureReason": reason[:1000]})
