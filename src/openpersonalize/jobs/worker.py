"""The worker loop: claim a job, heart-beat while it runs, write failures back; recover crashed jobs.

The worker is handed its runner table and its idle-time ``tick`` (server.py builds them from control and jobs),
so this package never imports the layers above it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from ..services import Services
from ..data.metadata import Job
from .base import JobFailed, NotYet, Runner, mark_failed
from .progress import JobProgress

log = logging.getLogger("openpersonalize.worker")
HEARTBEAT_SECONDS = 2.0
STALE_SECONDS = 30.0


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
    (automatic training and model refreshes) every STALE_SECONDS while idle."""

    def __init__(
        self, services: Services, runners: dict[str, Runner], tick: Callable[[Services], object],
        threads: int = 1, poll_seconds: float = 0.5,
    ) -> None:
        self.services = services
        self.runners, self.tick = runners, tick
        self.threads = threads
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self.recover()
        for index in range(self.threads):
            worker_id = f"{socket.gethostname()}:{os.getpid()}:{index}"
            thread = threading.Thread(target=self._loop, args=(worker_id,), name=f"worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def recover(self, older_than: float = STALE_SECONDS) -> None:
        """Jobs left running by a dead worker are started again (or failed if they cannot be).

        A claimer on this host is checked by pid at once; one elsewhere only after ``older_than``
        seconds without a heartbeat.
        """
        stale = {job.id for job in self.services.store.stale_jobs(older_than)}
        for job in self.services.store.stale_jobs(older_than=0.0):
            alive = _pid_alive(job.claimed_by or "")
            if alive is False or (alive is None and job.id in stale):
                self._restart(job)

    def _restart(self, job: Job) -> None:
        runner = self.runners.get(job.kind)
        if runner is not None and runner.resumable and job.attempts < 3:
            log.warning("job %s (%s %s) was interrupted; starting it again", job.id, job.kind, job.arn)
            self.services.store.requeue(job.id)
            return
        if runner is not None:
            mark_failed(self.services, job, runner, "The job was interrupted by a restart of the service.")
        self.services.store.finish(job.id, "failed")

    def _loop(self, worker_id: str) -> None:
        last_recovery = time.monotonic()
        while not self._stop.is_set():
            job = self.services.store.claim(worker_id)
            if job is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                if time.monotonic() - last_recovery > STALE_SECONDS:
                    self.recover()
                    if worker_id.endswith(":0"):  # one scheduler per process
                        self.tick(self.services)
                    last_recovery = time.monotonic()
                continue
            self.run_job(job)

    def run_job(self, job: Job) -> None:
        runner = self.runners.get(job.kind)
        if runner is None:
            log.error("job %s has unknown kind %s", job.id, job.kind)
            self.services.store.finish(job.id, "failed")
            return
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job.id, done), daemon=True)
        beat.start()
        try:
            runner.run(self.services, job, JobProgress(self.services.store, job, deadline=self.services.settings.deadline_of(job.kind)))
        except NotYet as wait:
            log.debug("job %s (%s %s) waits: %s", job.id, job.kind, job.arn, wait)
            self.services.store.requeue(job.id, delay=wait.delay)
            return
        except JobFailed as failure:
            mark_failed(self.services, job, runner, str(failure))
            self.services.store.finish(job.id, "failed")
            return
        except Exception:  # a bug of ours must not leave the resource in progress forever
            log.exception("job %s (%s %s) crashed", job.id, job.kind, job.arn)
            # The reason names the job, not the exception: internals (paths, library messages) stay in the log.
            mark_failed(self.services, job, runner, f"Internal error in job {job.id}; the server log has the details.")
            self.services.store.finish(job.id, "failed")
            return
        finally:
            done.set()
        self.services.store.finish(job.id)

    def _heartbeat(self, job_id: int, done: threading.Event) -> None:
        """Beats between reports too: a fit or a file read can run long without one."""
        while not done.wait(HEARTBEAT_SECONDS):
            self.services.store.heartbeat(job_id)
