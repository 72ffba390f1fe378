"""What a job is doing right now (issue 3): the report behind ``GET /progress/{arn}`` and ``openpersonalize progress``.

Personalize's Describe calls only say ``CREATE IN_PROGRESS``; while a job runs, the worker's progress reports
(jobs/progress.py) keep fields outside the wire shape on its record: ``_progress`` (percent done, every job
that reports) and ``_training`` (a training's stage, from jobs/training.py). The report: ``{"arn", "kind",
"status", "failureReason", "phase", "detail", "step", "steps", "epoch", "epochs", "validationScore", "validationCurve", "percent",
"elapsedSeconds"}`` (``validationCurve``: [epoch, score] pairs of the epochs reported so far); members that do not apply are null.
"""

from __future__ import annotations

import time
from typing import Any

from ..data.metadata import Record
from ..errors import ResourceNotFoundException
from ..jobs.batch_io import INFERENCE_KIND, SEGMENT_KIND
from ..jobs.data_deletion import COMPLETED, FAILED
from ..services import Services
from ..statuses import ACTIVE, CREATE_FAILED, CREATE_STOPPED, INACTIVE

FINAL = frozenset({ACTIVE, CREATE_FAILED, CREATE_STOPPED, FAILED, COMPLETED, INACTIVE})
BATCH_KINDS = frozenset({INFERENCE_KIND, SEGMENT_KIND})


def progress_of(services: Services, arn: str) -> dict[str, Any]:
    """The progress report of the resource ``arn``; ResourceNotFoundException if there is none."""
    record = services.store.get(arn)
    if record is None:
        raise ResourceNotFoundException(f"Could not find resource with ARN {arn}.")
    body = record.body
    status = str(body.get("status", record.status or ""))
    report: dict[str, Any] = {
        "arn": arn, "kind": record.kind, "status": status, "failureReason": body.get("failureReason"),
        "phase": None, "detail": None, "step": None, "steps": None, "epoch": None, "epochs": None,
        "validationScore": None, "validationCurve": None, "percent": None, "elapsedSeconds": _elapsed(record, status),
    }
    if "_progress" in body:
        report["percent"] = float(body["_progress"])
    if record.kind == "solution-version":
        report.update(_training(body.get("_training") or {}))
    elif record.kind in BATCH_KINDS and "_progress" in body:
        report["phase"] = "answering input lines"
    if status == ACTIVE:
        report["percent"] = 100.0
    update = body.get("latestRecommenderUpdate") or body.get("latestCampaignUpdate")
    if isinstance(update, dict) and update.get("status"):
        report.update(_update(update))
    return report


def _update(update: dict[str, Any]) -> dict[str, Any]:
    """A recommender's or campaign's latest update: the job the resource last ran, so its time and outcome are
    the report's (the record's own times span from its creation to that update)."""
    status = str(update["status"])
    elapsed = _span(float(update.get("creationDateTime") or time.time()), update.get("lastUpdatedDateTime"), status)
    return {"phase": "update", "detail": f"latest update {status}", "elapsedSeconds": elapsed,
            **({"failureReason": update["failureReason"]} if update.get("failureReason") else {})}


def _training(state: dict[str, Any]) -> dict[str, Any]:
    """The stage's members; ``percent`` stays the whole training's (``_progress``), not the phase's steps."""
    return {"phase": state.get("phase"), "detail": state.get("detail") or None, "step": state.get("step"),
            "steps": state.get("steps"), "epoch": state.get("epoch"), "epochs": state.get("epochs"),
            "validationScore": state.get("validationScore"), "validationCurve": state.get("curve") or None}


def _elapsed(record: Record, status: str) -> float:
    """Seconds since the job started (training: since its worker began), up to now or to its last update."""
    started = float((record.body.get("_training") or {}).get("started") or record.body.get("creationDateTime") or record.created)
    return _span(started, record.body.get("lastUpdatedDateTime"), status)


def _span(started: float, last_updated: Any, status: str) -> float:
    """Seconds from ``started`` to the last update when ``status`` is final, else to now."""
    until = float(last_updated or started) if status in FINAL else time.time()
    return round(max(0.0, until - started), 1)
