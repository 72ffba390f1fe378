"""The ASGI app: one listener for the control plane (JSON 1.1), runtime and events (REST-JSON)."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..control.context import ON_EVENT_LOOP, RequestContext, Services, WouldBlock
from . import auth
from .errors import InternalFailure, PersonalizeError, SerializationException, UnknownOperationException
from .metrics import REGISTRY
from .model import TARGET_PREFIX, WireOperation, rest_routes, wire_operations
from .operations import OPERATIONS
from .serialize import serialize
from .validation import validate

log = logging.getLogger("openpersonalize.access")
JSON_11 = "application/x-amz-json-1.1"
# Runtime reads answer from memory in well under a millisecond once the model is loaded; a thread hop would
# cost more than the work and halve throughput (bench/serving.py). They run on the loop; anything that would
# wait (a model still loading) raises WouldBlock and the call moves to a thread.
ON_LOOP = frozenset({"GetRecommendations", "GetPersonalizedRanking"})


def _resolve(request: Request) -> WireOperation:
    if request.url.path == "/":
        target = request.headers.get("x-amz-target", "")
        op = wire_operations().get(target.removeprefix(TARGET_PREFIX)) if target.startswith(TARGET_PREFIX) else None
        if op is None or op.rest:
            raise UnknownOperationException(f"Unknown operation {target!r}.")
        return op
    op = rest_routes().get(request.url.path)
    if op is None:
        raise UnknownOperationException(f"Unknown operation POST {request.url.path}.")
    return op


def _parse_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SerializationException(f"The request body is not valid JSON: {exc}") from None


def _error_response(error: PersonalizeError, rest: bool, request_id: str) -> Response:
    headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": error.code}
    body = orjson.dumps({"__type": error.code, "message": error.message})
    media = "application/json" if rest else JSON_11
    return Response(body, status_code=error.http_status(rest), headers=headers, media_type=media)


class Dispatcher:
    """Routes one request to its handler: resolve → authenticate → validate → call → serialise."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def dispatch(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        name, rest = "-", request.url.path != "/"
        try:
            op = _resolve(request)
            name, rest = op.name, op.rest
            response = await self._handle(op, request, request_id)
        except PersonalizeError as error:
            response = _error_response(error, rest, request_id)
        except Exception:  # a bug of ours: logged with the request id, answered AWS-shaped
            log.exception("%s %s internal failure", request_id, name)
            response = _error_response(InternalFailure("An internal error occurred."), rest, request_id)
        elapsed = time.perf_counter() - started
        REGISTRY.observe_request(name, response.status_code, elapsed)
        log.info("%s %s %s %d %.1fms", request_id, request.url.path, name, response.status_code, elapsed * 1000)
        return response

    async def _handle(self, op: WireOperation, request: Request, request_id: str) -> Response:
        body = await request.body()
        caller = auth.parse_authorization(request.headers.get("authorization"))
        auth.check_caller(caller, self.services.settings.access_keys, auth.incoming(request, body))
        params = validate(_parse_body(body), op.model.input_shape)
        ctx = RequestContext(
            services=self.services,
            region=caller.region or self.services.settings.default_region,
            account_id=self.services.settings.account_id,
            request_id=request_id,
        )
        result = await _call(OPERATIONS[op.name], op.name, ctx, params)
        payload = orjson.dumps(serialize(result, op.model.output_shape))
        media = "application/json" if op.rest else JSON_11
        return Response(payload, headers={"x-amzn-RequestId": request_id}, media_type=media)


async def _call(handler: Any, name: str, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    if name in ON_LOOP:
        token = ON_EVENT_LOOP.set(True)
        try:
            return handler(ctx, params)  # type: ignore[no-any-return]
        except WouldBlock:
            pass
        finally:
            ON_EVENT_LOOP.reset(token)
    return await run_in_threadpool(handler, ctx, params)  # type: ignore[no-any-return]


async def _metrics(request: Request) -> Response:
    """Prometheus scrape endpoint."""
    return Response(REGISTRY.render(), media_type="text/plain; version=0.0.4")


# The runtime API's paths skip Starlette's router and middleware stack: the dispatcher already answers every
# error AWS-shaped, and those layers cost a third of a cached recommendation's time (bench/serving.py).
HOT_PATHS = frozenset({"/recommendations", "/personalize-ranking"})


class PersonalizeApp(Starlette):
    """Starlette for everything, with a direct route for the runtime API's hot paths."""

    def __init__(self, dispatcher: Dispatcher, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dispatcher = dispatcher

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in HOT_PATHS:
            scope["app"] = self
            response = await self.dispatcher.dispatch(Request(scope, receive))
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(services: Services, lifespan: Any = None) -> Starlette:
    dispatcher = Dispatcher(services)
    routes = [
        Route("/metrics", _metrics, methods=["GET"]),
        Route("/", dispatcher.dispatch, methods=["POST"]),
        Route("/{path:path}", dispatcher.dispatch, methods=["POST"]),
    ]
    app = PersonalizeApp(dispatcher, routes=routes, lifespan=lifespan)
    app.state.services = services
    return app
