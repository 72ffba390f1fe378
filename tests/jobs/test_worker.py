"""The worker's takeover of dead workers' jobs (jobs/worker.py): restarted once the lease ran out (at once for a
dead process of this host), failed after three attempts, and a worker that lost its lease stops quietly."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from _postgres import store_url

from openpersonalize.config import Settings
from openpersonalize.data.metadata import Job, Store, jobs, new_record
from openpersonalize.data.store import DataStore
from openpersonalize.jobs.base import Progress, Runner
from openpersonalize.jobs.worker import MAX_ATTEMPTS, PROCESS, Worker
from openpersonalize.services import Services

ARN = "arn:aws:personalize:us-east-1:123456789012:solution/s/0123abcd"
ELSEWHERE = "another-host:4242:0"  # a claimer on another host: only its lease tells whether it lives


@pytest.fixture()
def services(tmp_path: Path) -> Services:
    settings = Settings(data_dir=tmp_path, job_lease_seconds=5)
    services = Services(settings=settings, store=Store(store_url(tmp_path)), data=DataStore(tmp_path))
    body = {"solutionVersionArn": ARN, "status": "CREATE IN_PROGRESS"}
    services.store.create_queued(new_record("solution-version", ARN, "v", None, body, {}), "probe")
    return services


def _worker(services: Services, run: object = lambda services, job, progress: None) -> Worker:
    return Worker(services, {"probe": Runner(run)}, tick=lambda services: None)  # type: ignore[arg-type]


def _state(store: Store, job_id: int) -> tuple[str, str | None]:
    with store.engine.connect() as conn:
        row = conn.execute(select(jobs.c.state, jobs.c.claimed_by).where(jobs.c.id == job_id)).one()
    return row.state, row.claimed_by


def _silent_for(store: Store, job: Job, seconds: float) -> None:
    with store.transaction() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job.id).values(heartbeat=time.time() - seconds))


def test_a_remote_claimer_keeps_its_job_until_its_lease_runs_out(services: Services) -> None:
    job = services.store.claim(ELSEWHERE)
    assert job is not None
    _silent_for(services.store, job, 2)
    _worker(services).recover()
    assert _state(services.store, job.id) == ("running", ELSEWHERE)
    _silent_for(services.store, job, 6)
    _worker(services).recover()
    assert _state(services.store, job.id) == ("queued", None)
    again = services.store.claim("here:1:0")
    assert again is not None and again.id == job.id and again.attempts == 2


def test_a_claimer_whose_pid_now_names_another_process_loses_its_job_with_its_lease(services: Services) -> None:
    job = services.store.claim(f"{socket.gethostname()}:{os.getpid()}:0")  # a live pid, but no heartbeats
    assert job is not None
    _silent_for(services.store, job, 6)
    _worker(services).recover()
    assert _state(services.store, job.id) == ("queued", None)


def test_this_process_keeps_its_own_jobs_when_a_long_native_call_starved_the_heartbeat(services: Services) -> None:
    job = services.store.claim(f"{PROCESS}0")  # a worker thread of this process, silent past its lease
    assert job is not None
    _silent_for(services.store, job, 6)
    _worker(services).recover()
    assert _state(services.store, job.id) == ("running", f"{PROCESS}0")


def test_a_dead_process_of_this_host_loses_its_job_at_once(services: Services) -> None:
    job = services.store.claim(f"{socket.gethostname()}:999999999:0")  # no such pid
    assert job is not None
    _worker(services).recover()
    assert _state(services.store, job.id) == ("queued", None)


def test_a_job_interrupted_three_times_fails_with_a_reason(services: Services) -> None:
    for _ in range(MAX_ATTEMPTS):
        job = services.store.claim(ELSEWHERE)
        assert job is not None
        _silent_for(services.store, job, 60)
        _worker(services).recover()
    assert _state(services.store, job.id) == ("failed", None)
    record = services.store.get(ARN)
    assert record is not None and record.status == "CREATE FAILED"
    assert "interrupted" in record.body["failureReason"]


def test_a_worker_that_lost_its_lease_stops_without_writing(services: Services) -> None:
    job = services.store.claim("slow:1:0")
    assert job is not None

    def stalls_then_reports(services: Services, job: Job, progress: Progress) -> None:
        _silent_for(services.store, job, 60)
        assert services.store.take_over(job, "queued", stale_before=time.time() - 5)  # another worker's recovery
        services.store.claim("fast:2:0")
        progress(1.0)
        raise AssertionError("the report must stop the job")

    _worker(services, stalls_then_reports).run_job(job)
    assert _state(services.store, job.id) == ("running", "fast:2:0")
    record = services.store.get(ARN)
    assert record is not None and record.status == "CREATE IN_PROGRESS"


def test_the_job_loop_outlives_a_database_outage(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """Claims that raise (the metadata database restarting) are retried: the thread must not die while the
    process lives on, or no job would ever run again."""
    ran: list[str] = []
    claim, failures = services.store.claim, [3]

    def flaky_claim(worker_id: str) -> Job | None:
        if failures[0]:
            failures[0] -= 1
            raise ConnectionError("the database is restarting")
        return claim(worker_id)

    monkeypatch.setattr(services.store, "claim", flaky_claim)
    worker = _worker(services, lambda services, job, progress: ran.append(job.arn))
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while not ran and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert ran == [ARN] and failures == [0]


def test_a_stopping_worker_returns_its_running_job_to_the_queue(services: Services) -> None:
    started, release = threading.Event(), threading.Event()

    def long_job(services: Services, job: Job, progress: Progress) -> None:
        started.set()
        release.wait(30)

    worker = _worker(services, long_job)
    worker.start()
    try:
        assert started.wait(10)
        worker.stop(timeout=0.1)
        state, claimed_by = _state(services.store, 1)
        assert state == "queued" and claimed_by is None  # another worker may start it now, not after the lease
    finally:
        release.set()
