"""What a job is doing right now (issue 3): the report behind ``GET /progress/{arn}`` and ``openpersonalize progress``.

Personalize's Describe calls only say ``CREATE IN_PROGRESS``; the records of training and batch jobs also carry
fields outside the wire shape (``_training`` from jobs/training.py, ``_progress`` from jobs/batch_io.py). The
report: ``{"arn", "kind", "status", "failureReason", "phase", "detail", "step", "steps", "percent",
"elapsedSeconds"}``; members that do not apply are null.
"""

from __future__ import annotations

import time
from typing import Any

from ..data.metadata import Record
from ..errors import ResourceNotFoundException
from ..services import Services

FINAL = frozenset({"ACTIVE", "CREATE FAILED", "CREATE STOPPED", "FAILED", "COMPLETED", "INACTIVE"})
BATCH_KINDS = frozenset({"batch-inference-job", "batch-segment-job"})


def progress_of(services: Services, arn: str) -> dict[str, Any]:
    """The progress report of the resource ``arn``; ResourceNotFoundException if there is none."""
    record = services.store.get(arn)
    if record is None:
        raise ResourceNotFoundException(f"Could not find resource with ARN {arn}.")
    body = record.body
    status = str(body.get("status", record.status or ""))
    report: dict[str, Any] = {
        "arn": arn, "kind": record.kind, "status": status, "failureReason": body.get("failureReason"),
        "phase": None, "detail": None, "step": None, "steps": None, "percent": None,
        "elapsedSeconds": _elapsed(record, status),
    }
    if record.kind == "solution-version":
        report.update(_training(body.get("_training") or {}))
    elif record.kind in BATCH_KINDS and "_progress" in body:
        report["phase"] = "answering input lines"
        report["percent"] = float(body["_progress"])
    if status == "ACTIVE":
        report["percent"] = 100.0
    return report


def _training(state: dict[str, Any]) -> dict[str, Any]:
    step, steps = state.get("step"), state.get("steps")
    percent = round(100.0 * step / steps, 1) if isinstance(step, int) and isinstance(steps, int) and steps > 0 else None
    return {"phase": state.get("phase"), "detail": state.get("detail") or None, "step": step, "steps": steps,
            "percent": percent}


def _elapsed(record: Record, status: str) -> float:
    """Seconds since the job started (training: since its worker began), up to now or to its last update."""
    started = float((record.body.get("_training") or {}).get("started") or record.body.get("creationDateTime") or record.created)
    until = float(record.body.get("lastUpdatedDateTime", started)) if status in FINAL else time.time()
    return round(max(0.0, until - started), 1)
