"""The worker loop: claim a job, heart-beat while it runs, write failures back; recover crashed jobs.

The worker is handed its runner table and its idle-time ``tick`` (server.py builds them from control and jobs),
so this package never imports the layers above it.

Any number of worker processes (and servers with their in-process worker) share one queue: the metadata
store's ``jobs`` table (data/metadata.py). A claimed job is leased to its worker thread while its heartbeats
keep coming (``OPENPERSONALIZE_JOB_LEASE_SECONDS``). An idle worker takes over the jobs of dead workers: at once
when the claimer was a process of this host that no longer exists, else once the lease ran out — never its own
process's jobs: their thread is running them, and a heartbeat that lapsed was starved of the GIL by one long
native call (a LAPACK factorisation of a 15k-item model holds it for tens of seconds on a loaded machine). The job is
started again (every runner is resumable: its writes are atomic) or, after three attempts, failed with a reason.
A worker whose lease was taken over learns it at its next heartbeat or progress report and drops the job
without writing anything more. The scheduler's ``tick`` runs in one process of the deployment at a time.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from ..ids import new_uuid
from ..services import Services
from ..data.metadata import Job
from .base import JobFailed, LeaseLost, NotYet, Runner, mark_failed
from .progress import JobProgress

log = logging.getLogger("openpersonalize.worker")
HEARTBEAT_SECONDS = 2.0  # at most; a short lease beats more often (five beats per lease)
TICK_SECONDS = 30.0  # how often an idle worker runs the scheduler's tick
OUTAGE_BACKOFF, OUTAGE_BACKOFF_MAX = 0.5, 30.0  # seconds between retries of a failing job loop (doubling)
MAX_ATTEMPTS = 3  # a job interrupted this many times fails instead of starting again
# Worker ids are host:pid:incarnation:thread. The incarnation tells this process from an earlier one with the same
# pid (a restarted container numbers its processes anew), whose jobs are not ours to keep.
PROCESS = f"{socket.gethostname()}:{os.getpid()}:{new_uuid()[:8]}:"


def _pid_alive(worker_id: str) -> bool | None:
    """For a worker on this host, whether its process still exists; None when it is elsewhere."""
    host, _, rest = worker_id.partition(":")
    if host != socket.gethostname():
        return None
    try:
        os.kill(int(rest.split(":")[0]), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


class Worker:
    """Runs jobs on ``threads`` threads of this process until ``stop()``; one thread also calls ``tick``
    (automatic training and model refreshes) every TICK_SECONDS while idle."""

    def __init__(
        self, services: Services, runners: dict[str, Runner], tick: Callable[[Services], object],
        threads: int = 1, poll_seconds: float = 0.5,
    ) -> None:
        self.services = services
        self.runners, self.tick = runners, tick
        self.threads = threads
        self.poll_seconds = poll_seconds
        self.lease = services.settings.job_lease_seconds
        self.beat_seconds = min(HEARTBEAT_SECONDS, self.lease / 5)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self.recover()
        listener = threading.Thread(target=self.services.store.wait_for_jobs, args=(self.wake, self._stop),
                                    name="worker-listen", daemon=True)
        listener.start()
        self._threads.append(listener)
        for index in range(self.threads):
            worker_id = f"{PROCESS}{index}"
            thread = threading.Thread(target=self._loop, args=(worker_id,), name=f"worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming; a job still running after ``timeout`` goes back to the queue, logged, so a worker on
        another host starts it again at once instead of after the lease (a job that reports again here stops)."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        try:
            running = [job for job in self.services.store.stale_jobs(older_than=0.0)
                       if (job.claimed_by or "").startswith(PROCESS)]
        except Exception:  # the database is away: the lease hands the jobs over instead
            log.warning("stopping: could not return running jobs to the queue", exc_info=True)
            return
        for job in running:
            if self.services.store.take_over(job, "queued"):
                log.warning("job %s (%s %s) returned to the queue: this worker is stopping", job.id, job.kind, job.arn)

    def recover(self) -> None:
        """Jobs left running by a dead worker are started again (or failed if they cannot be).

        A claimer on this host whose process is gone loses its job at once; any other once its lease ran out
        (a pid that exists may belong to another process now: a restarted container numbers its processes anew).
        """
        cutoff = time.time() - self.lease
        for job in self.services.store.stale_jobs(older_than=0.0):
            if (job.claimed_by or "").startswith(PROCESS):
                continue
            self._restart(job, None if _pid_alive(job.claimed_by or "") is False else cutoff)

    def _restart(self, job: Job, stale_before: float | None) -> None:
        runner = self.runners.get(job.kind)
        if runner is not None and runner.resumable and job.attempts < MAX_ATTEMPTS:
            if self.services.store.take_over(job, "queued", stale_before):
                log.warning("job %s (%s %s) of %s was interrupted; starting it again", job.id, job.kind, job.arn,
                            job.claimed_by)
                self.wake()
            return
        if self.services.store.take_over(job, "failed", stale_before) and runner is not None:
            log.warning("job %s (%s %s) of %s was interrupted %d times; it fails", job.id, job.kind, job.arn,
                        job.claimed_by, job.attempts)
            mark_failed(self.services, job, runner, "The job was interrupted by a restart of the service.")

    def _loop(self, worker_id: str) -> None:
        """Claim and run jobs until stopped. An error outside a job (the metadata database restarting, a network
        blip) must not end the thread while the process lives on looking healthy: it is logged, and the loop
        waits, longer each time it repeats, then carries on."""
        failures, last_failure = 0, 0.0
        while not self._stop.is_set():
            try:
                self._serve_jobs(worker_id)
                return
            except Exception:
                now = time.monotonic()  # an outage long after the last one starts the backoff afresh
                failures = failures + 1 if now - last_failure < 2 * OUTAGE_BACKOFF_MAX else 1
                last_failure = now
                if failures == 1 or failures % 10 == 0:
                    log.exception("worker %s: the job loop failed (%d in a row); it retries", worker_id, failures)
                self._stop.wait(min(OUTAGE_BACKOFF_MAX, OUTAGE_BACKOFF * 2 ** min(failures - 1, 8)))

    def _serve_jobs(self, worker_id: str) -> None:
        last_recovery = last_tick = time.monotonic()
        while not self._stop.is_set():
            job = self.services.store.claim(worker_id)
            if job is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                if time.monotonic() - last_recovery > self.lease / 3:
                    self.recover()
                    last_recovery = time.monotonic()
                if worker_id.endswith(":0") and time.monotonic() - last_tick > TICK_SECONDS:
                    with self.services.store.leader("scheduler") as leading:
                        if leading:  # one scheduler in the whole deployment
                            self.tick(self.services)
                    last_tick = time.monotonic()
                continue
            self.run_job(job)

    def run_job(self, job: Job) -> None:
        store, held_by = self.services.store, job.claimed_by
        runner = self.runners.get(job.kind)
        if runner is None:
            log.error("job %s has unknown kind %s", job.id, job.kind)
            store.finish(job.id, "failed", held_by)
            return
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job, done), daemon=True)
        beat.start()
        try:
            runner.run(self.services, job, JobProgress(store, job, deadline=self.services.settings.deadline_of(job.kind)))
        except NotYet as wait:
            log.debug("job %s (%s %s) waits: %s", job.id, job.kind, job.arn, wait)
            store.requeue(job.id, delay=wait.delay, worker_id=held_by)
            return
        except LeaseLost:
            log.warning("job %s (%s %s): another worker took it over; this one stops", job.id, job.kind, job.arn)
            return
        except JobFailed as failure:
            self._fail(job, runner, str(failure))
            return
        except Exception:  # a bug of ours must not leave the resource in progress forever
            log.exception("job %s (%s %s) crashed", job.id, job.kind, job.arn)
            # The reason names the job, not the exception: internals (paths, library messages) stay in the log.
            self._fail(job, runner, f"Internal error in job {job.id}; the server log has the details.")
            return
        finally:
            done.set()
        store.finish(job.id, "done", held_by)

    def _fail(self, job: Job, runner: Runner, reason: str) -> None:
        """The job failed while this worker held it; a worker whose lease was taken over leaves it alone."""
        if self.services.store.finish(job.id, "failed", job.claimed_by):
            mark_failed(self.services, job, runner, reason)

    def _heartbeat(self, job: Job, done: threading.Event) -> None:
        """Beats between reports too: a fit or a file read can run long without one."""
        while not done.wait(self.beat_seconds):
            try:
                if not self.services.store.heartbeat(job.id, job.claimed_by):
                    return  # taken over: the runner stops at its next progress report
            except Exception:  # the database is away for a moment: beat again next time (the lease allows five)
                log.warning("job %s: a heartbeat failed; retrying", job.id, exc_info=True)
