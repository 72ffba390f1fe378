"""The worker's progress reports (jobs/progress.py): record fields, heartbeat, throttle, and GET /progress's report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from _postgres import store_url

from openpersonalize.config import Settings
from openpersonalize.control.progress import progress_of
from openpersonalize.data.metadata import Job, Store, jobs, new_record
from openpersonalize.data.store import DataStore
from openpersonalize.jobs.base import JobFailed, Progress, Runner
from openpersonalize.jobs.progress import WRITE_SECONDS, JobProgress
from openpersonalize.jobs.worker import Worker
from openpersonalize.services import Services

ARN = "arn:aws:personalize:us-east-1:123456789012:solution/s/0123abcd"


@pytest.fixture()
def services(tmp_path: Path) -> Services:
    settings = Settings(data_dir=tmp_path)
    return Services(settings=settings, store=Store(store_url(settings.data_dir)), data=DataStore(tmp_path))


def _claimed(services: Services, kind: str = "probe") -> Job:
    body = {"solutionVersionArn": ARN, "status": "CREATE IN_PROGRESS"}
    services.store.create_queued(new_record("solution-version", ARN, "v", None, body, {}), kind)
    job = services.store.claim("host:1:0")
    assert job is not None
    return job


def _heartbeat(store: Store, job_id: int) -> float:
    with store.engine.connect() as conn:
        return float(conn.execute(select(jobs.c.heartbeat).where(jobs.c.id == job_id)).scalar_one())


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_reports_are_throttled_but_a_new_phase_and_the_end_are_written(services: Services) -> None:
    job, clock = _claimed(services), Clock()
    progress = JobProgress(services.store, job, clock=clock)
    progress(0.1, {"phase": "fitting and evaluating", "epoch": 1})
    clock.now += WRITE_SECONDS / 2
    progress(0.2, {"phase": "fitting and evaluating", "epoch": 2})  # too soon after the last write: dropped
    body = services.store.get(ARN).body
    assert body["_progress"] == 10.0 and body["_training"]["epoch"] == 1
    progress(0.9, {"phase": "saving the model"})  # a new phase is written at once
    assert services.store.get(ARN).body["_training"]["phase"] == "saving the model"
    progress(1.0)  # so is the end
    assert services.store.get(ARN).body["_progress"] == 100.0
    clock.now += WRITE_SECONDS
    progress(1.7)  # out-of-range fractions are clamped
    assert services.store.get(ARN).body["_progress"] == 100.0


def test_a_report_advances_the_heartbeat(services: Services) -> None:
    job = _claimed(services)
    before = _heartbeat(services.store, job.id)
    time.sleep(0.02)
    JobProgress(services.store, job)(0.5)
    assert _heartbeat(services.store, job.id) > before


def test_a_deleted_resource_does_not_fail_its_job(services: Services) -> None:
    job = _claimed(services)
    services.store.remove(ARN)
    JobProgress(services.store, job)(0.5)  # nothing to write to; the heartbeat still beats


def test_the_worker_reports_while_the_job_runs(services: Services) -> None:
    """A runner's reports reach GET /progress's report while it runs, and the job's heartbeat moves."""
    seen: dict[str, Any] = {}

    def probe(services: Services, job: Job, progress: Progress) -> None:
        before = _heartbeat(services.store, job.id)
        time.sleep(0.02)
        stage = {"phase": "fitting and evaluating", "detail": "epoch 2 of at most 5", "step": 2, "steps": 5,
                 "epoch": 2, "epochs": 5, "validationScore": 0.25, "started": time.time()}
        progress(0.4, stage)
        seen["report"] = progress_of(services, job.arn)
        seen["beat"] = _heartbeat(services.store, job.id) - before

    worker = Worker(services, {"probe": Runner(probe)}, tick=lambda services: None)
    worker.run_job(_claimed(services))
    report = seen["report"]
    assert report["status"] == "CREATE IN_PROGRESS" and report["percent"] == 40.0
    assert (report["phase"], report["epoch"], report["epochs"], report["validationScore"]) == ("fitting and evaluating", 2, 5, 0.25)
    assert seen["beat"] > 0


def test_a_report_past_the_deadline_fails_the_job(services: Services) -> None:
    job, clock = _claimed(services), Clock()
    progress = JobProgress(services.store, job, clock=clock, deadline=60.0)
    progress(0.1)
    clock.now += 61.0
    with pytest.raises(JobFailed, match="deadline of 60 s"):
        progress(0.2)


def test_the_worker_stops_a_job_at_its_kind_deadline(services: Services) -> None:
    """A slow job frees its worker thread with a reason, as a deadline per job kind (config.Settings)."""
    services.settings.job_deadlines["probe"] = 0.05

    def slow(services: Services, job: Job, progress: Progress) -> None:
        while True:  # a job that keeps reporting but never ends
            progress(0.5)
            time.sleep(0.01)

    Worker(services, {"probe": Runner(slow)}, tick=lambda services: None).run_job(_claimed(services))
    record = services.store.get(ARN)
    assert record.status == "CREATE FAILED" and "deadline of 0.05 s" in record.body["failureReason"]
