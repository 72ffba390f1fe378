"""The uniform job interface (habit 19): every runner is ``run(services, job, progress) -> None``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..statuses import CREATE_FAILED
from ..services import Services
from ..data.metadata import Job


class JobFailed(Exception):
    """A job ended for a reason the user must see in ``failureReason`` (bad data, missing file…)."""


Progress = Callable[[float], None]  # fraction done in [0, 1]; also heart-beats the job


@dataclass(frozen=True)
class Runner:
    run: Callable[[Services, Job, Progress], None]
    failed_status: str = CREATE_FAILED
    # Safe to start again from scratch after a crash (writes are atomic and idempotent).
    resumable: bool = True


def mark_failed(services: Services, job: Job, runner: Runner, reason: str) -> None:
    if services.store.get(job.arn) is not None:
        services.store.update(job.arn, {"status": runner.failed_status, "failureReason": reason[:1000]})
