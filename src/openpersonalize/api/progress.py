"""``GET /progress/{arn}``: what a job is doing right now, as JSON (issue 3). Not an AWS operation.

Personalize's Describe calls only say ``CREATE IN_PROGRESS``; the records of training and batch jobs also carry
fields outside the wire shape (``_training`` from jobs/training.py, ``_progress`` from jobs/batch_io.py). This
route shows them, so ``openpersonalize progress`` and the console can follow a job on a remote server. It is
signed and checked like every other request when access keys are configured (api/auth.py).

The answer: ``{"arn", "kind", "status", "failureReason", "phase", "detail", "step", "steps", "percent",
"elapsedSeconds"}``; members that do not apply are null.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..services import Services
from ..data.metadata import Record
from . import auth
from ..errors import PersonalizeError, ResourceNotFoundException

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


async def progress_route(request: Request) -> Response:
    """The route's handler: authenticate as the wire API does, then answer the report (errors AWS-shaped)."""
    services: Services = request.app.state.services
    body = await request.body()
    try:
        caller = auth.parse_authorization(request.headers.get("authorization"))
        auth.check_caller(caller, services.settings.access_keys, auth.incoming(request, body))
        report = await run_in_threadpool(progress_of, services, request.path_params["arn"])
    except PersonalizeError as error:
        payload = orjson.dumps({"__type": error.code, "message": error.message})
        return Response(payload, status_code=error.http_status(True), media_type="application/json",
                        headers={"x-amzn-ErrorType": error.code})
    return Response(orjson.dumps(report), media_type="application/json")
