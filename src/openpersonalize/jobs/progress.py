"""The worker's Progress (jobs/base.py): a running job's report reaches its record and its heartbeat.

Each report writes ``_progress`` (percent done) and, for training, ``_training`` (the stage: phase, detail,
step of steps, epoch of epochs, last validation score) to the resource record, and advances the job's heartbeat
in the jobs table, which is how a restarted worker tells a live job from a crashed one (jobs/worker.py).
Reports are throttled to one write per ``WRITE_SECONDS``; a new phase and the end (fraction 1) are always
written. GET /progress/<arn> (control/progress.py) reads both fields; neither is a wire member.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ..data.metadata import Job, Store
from ..errors import ResourceNotFoundException
from .base import JobFailed, LeaseLost

WRITE_SECONDS = 0.5  # at most two record writes a second per job, however fast the epochs or input lines go


class JobProgress:
    """Reports of one job to its record and heartbeat (see the module docstring)."""

    def __init__(self, store: Store, job: Job, *, clock: Callable[[], float] = time.monotonic,
                 deadline: float | None = None) -> None:
        self.store, self.job, self.clock = store, job, clock
        self.written: float | None = None
        self.phase: object = None
        self.deadline = deadline  # seconds the job may run (config.Settings.deadline_of); None: no limit
        self.started = clock()

    def __call__(self, fraction: float, stage: Mapping[str, Any] | None = None) -> None:
        now = self.clock()
        if self.deadline is not None and now - self.started > self.deadline:
            # Threads cannot be killed: a job stops at its next report. Every long runner reports (batches per
            # chunk, imports per block, training per phase and epoch); HTTP downloads have their own deadline.
            raise JobFailed(f"The job ran longer than its deadline of {self.deadline:g} s "
                            f"(OPENPERSONALIZE_JOB_DEADLINES, kind {self.job.kind}).")
        phase = None if stage is None else stage.get("phase")
        due = self.written is None or now - self.written >= WRITE_SECONDS
        if not (due or fraction >= 1.0 or (stage is not None and phase != self.phase)):
            return
        self.written, self.phase = now, phase
        if not self.store.heartbeat(self.job.id, self.job.claimed_by):
            raise LeaseLost(f"job {self.job.id} is no longer held by {self.job.claimed_by}")
        changes: dict[str, Any] = {"_progress": round(100.0 * min(max(fraction, 0.0), 1.0), 1)}
        if stage is not None:
            changes["_training"] = dict(stage)
        try:
            self.store.update(self.job.arn, changes)
        except ResourceNotFoundException:
            pass  # the resource was deleted while its job ran; the runner finds out on its next write
