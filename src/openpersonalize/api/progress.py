"""``GET /progress/{arn}``: what a job is doing right now, as JSON (issue 3). Not an AWS operation.

The report is control/progress.py's; this route lets ``openpersonalize progress`` and the console follow a job
on a remote server. It is signed and checked like every other request when access keys are configured
(api/auth.py).
"""

from __future__ import annotations

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..control.progress import progress_of
from ..errors import PersonalizeError
from ..services import Services
from . import auth


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
