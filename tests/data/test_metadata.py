"""The job queue of data/metadata.py on this leg's database: each job claimed once, leases that fence out a
worker that lost its job, the takeover of a dead worker's job, and the one-process-at-a-time ``leader`` lock."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from _postgres import store_url

from openpersonalize.data.metadata import Store, jobs


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store(store_url(tmp_path))


def test_concurrent_claimers_get_each_job_exactly_once(store: Store) -> None:
    for n in range(120):
        store.enqueue("probe", f"arn:{n}")
    claimed: list[str] = []
    lock = threading.Lock()

    def drain(worker: str) -> None:
        while (job := store.claim(worker)) is not None:
            with lock:
                claimed.append(job.arn)

    threads = [threading.Thread(target=drain, args=(f"host:1:{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(f"arn:{n}" for n in range(120))


def test_a_claim_takes_the_oldest_runnable_job_and_leases_it(store: Store) -> None:
    store.enqueue("probe", "arn:later", delay=60)
    store.enqueue("probe", "arn:first")
    store.enqueue("probe", "arn:second")
    first = store.claim("a:1:0")
    assert first is not None and (first.arn, first.claimed_by, first.attempts) == ("arn:first", "a:1:0", 1)
    second = store.claim("b:1:0")
    assert second is not None and second.arn == "arn:second"
    assert store.claim("c:1:0") is None  # the delayed job is not runnable yet


def test_a_taken_over_job_is_no_longer_its_old_workers(store: Store) -> None:
    store.enqueue("probe", "arn:x")
    job = store.claim("dead:1:0")
    assert job is not None
    assert not store.take_over(job, "queued", stale_before=time.time() - 30)  # its lease has not run out
    with store.transaction() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job.id).values(heartbeat=time.time() - 60))
    assert [j.id for j in store.stale_jobs(30)] == [job.id]
    assert store.take_over(job, "queued", stale_before=time.time() - 30)
    assert not store.take_over(job, "queued", stale_before=time.time() - 30)  # a second finder loses
    again = store.claim("alive:2:0")
    assert again is not None and again.id == job.id and again.attempts == 2
    # The old worker comes back: its heartbeat, requeue and finish no longer touch the job.
    assert not store.heartbeat(job.id, "dead:1:0")
    assert not store.requeue(job.id, worker_id="dead:1:0")
    assert not store.finish(job.id, "failed", "dead:1:0")
    assert store.heartbeat(job.id, "alive:2:0")
    assert store.finish(job.id, "done", "alive:2:0")
    assert store.claim("any:3:0") is None


def test_one_leader_at_a_time(store: Store) -> None:
    with store.leader("scheduler") as first:
        with Store(str(store.engine.url.render_as_string(hide_password=False))).leader("scheduler") as second:
            assert (first, second) == (True, False)
        with store.leader("another") as other:
            assert other
    with store.leader("scheduler") as after:
        assert after
