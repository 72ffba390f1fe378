"""The ASGI app: one listener for the control plane (JSON 1.1), runtime and events (REST-JSON)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..services import Services
from ..blocking import ON_EVENT_LOOP, WouldBlock
from ..console import Call, build_console, is_console_path
from ..control.context import RequestContext
from ..ids import new_uuid
from . import auth
from ..errors import InternalFailure, PersonalizeError, SerializationException, UnknownOperationException
from .limits import Guard, host_name, refuse
from .metrics import REGISTRY, render_caches
from .model import TARGET_PREFIX, WireOperation, rest_routes, wire_operations
from .operations import OPERATIONS
from .progress import progress_route
from .serialize import serialize
from .validation import validate

log = logging.getLogger("openpersonalize.access")
JSON_11 = "application/x-amz-json-1.1"
# Runtime reads answer from memory in well under a millisecond once the model is loaded; a thread hop would
# cost more than the work and halve throughput (bench/serving.py). They run on the loop; anything that would
# wait (a model still loading) raises WouldBlock and the call moves to a thread.
ON_LOOP = frozenset({"GetRecommendations", "GetPersonalizedRanking"})
# Handlers that already return their output in wire form (no timestamps, no absent members, item lists as
# pre-encoded JSON): the generic serialiser would cost a fifth of a cached answer (tests/serving/test_answers.py
# checks them against it).
WIRE_SHAPED = frozenset({"GetRecommendations", "GetPersonalizedRanking"})
_MEDIA = {False: JSON_11.encode(), True: b"application/json"}


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer, as the ASGI messages need it."""

    status: int
    body: bytes
    request_id: str
    media: bytes
    error_type: str | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", self.media), (b"content-length", str(len(self.body)).encode()),
                   (b"x-amzn-requestid", self.request_id.encode())]
        if self.error_type is not None:
            headers.append((b"x-amzn-errortype", self.error_type.encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def _header(scope: Any, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _resolve(scope: Any) -> WireOperation:
    path = scope["path"]
    if path == "/":
        target = _header(scope, b"x-amz-target") or ""
        op = wire_operations().get(target.removeprefix(TARGET_PREFIX)) if target.startswith(TARGET_PREFIX) else None
        if op is None or op.rest:
            raise UnknownOperationException(f"Unknown operation {target!r}.")
        return op
    op = rest_routes().get(path)
    if op is None:
        raise UnknownOperationException(f"Unknown operation POST {path}.")
    return op


def _parse_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SerializationException(f"The request body is not valid JSON: {exc}") from None


def _error_answer(error: PersonalizeError, rest: bool, request_id: str) -> Answer:
    body = orjson.dumps({"__type": error.code, "message": error.message})
    return Answer(error.http_status(rest), body, request_id, _MEDIA[rest], error.code)


class Dispatcher:
    """Routes one request to its handler: resolve → authenticate → validate → call → serialise."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def dispatch(self, request: Request) -> Answer:
        """The Starlette route for the control plane."""
        return await self.answer(request.scope, await request.body())

    async def answer(self, scope: Any, body: bytes) -> Answer:
        request_id = new_uuid()
        started = time.perf_counter()
        path = scope["path"]
        name, rest = "-", path != "/"
        try:
            op = _resolve(scope)
            name, rest = op.name, op.rest
            answer = await self._handle(op, scope, body, request_id)
        except PersonalizeError as error:
            answer = _error_answer(error, rest, request_id)
        except Exception:  # a bug of ours: logged with the request id, answered AWS-shaped
            log.exception("%s %s internal failure", request_id, name)
            answer = _error_answer(InternalFailure("An internal error occurred."), rest, request_id)
        elapsed = time.perf_counter() - started
        REGISTRY.observe_request(name, answer.status, elapsed)
        if log.isEnabledFor(logging.INFO):
            log.info("%s %s %s %d %.1fms", request_id, path, name, answer.status, elapsed * 1000)
        return answer

    async def _handle(self, op: WireOperation, scope: Any, body: bytes, request_id: str) -> Answer:
        settings = self.services.settings
        caller = auth.parse_authorization(_header(scope, b"authorization"))
        if settings.access_keys:  # only then is the whole request needed, to check its signature
            auth.check_caller(caller, settings.access_keys, auth.incoming(Request(scope), body))
        params = validate(_parse_body(body), op.model.input_shape)
        ctx = RequestContext(
            services=self.services,
            region=caller.region or settings.default_region,
            account_id=settings.account_id,
            request_id=request_id,
        )
        result = await _call(OPERATIONS[op.name], op.name, ctx, params)
        payload = orjson.dumps(result if op.name in WIRE_SHAPED else serialize(result, op.model.output_shape))
        return Answer(200, payload, request_id, _MEDIA[op.rest])


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
    services: Services = request.app.state.services
    text = REGISTRY.render() + render_caches(services.cache_stats())
    return Response(text, media_type="text/plain; version=0.0.4")


# The runtime and events APIs' paths (every REST route: /recommendations, /events, ...) skip Starlette's router,
# middleware and Request/Response objects: the dispatcher already answers every error AWS-shaped, and those
# layers cost a third of a cached recommendation's time and an eighth of a PutEvents' (bench/serving.py).
HOT_PATHS = frozenset(rest_routes())


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class PersonalizeApp(Starlette):
    """Starlette for everything, with a direct route for the runtime API's hot paths."""

    def __init__(self, dispatcher: Dispatcher, guard: Guard, console: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dispatcher, self.guard, self.console = dispatcher, guard, console

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and is_console_path(scope):  # browser forms and a session: its own gate (console/app.py)
            await self.console(scope, receive, send)
            return
        if scope["type"] == "http":  # api/limits.py: caps, Host, content type, early authentication
            try:
                receive = await self.guard.admit(scope, receive)
            except PersonalizeError as error:
                await refuse(scope, send, error)
                return
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in HOT_PATHS:
            answer = await self.dispatcher.answer(scope, await _read_body(receive))
            await answer(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def console_caller(services: Services) -> Call:
    """What the console calls: an operation by name, validated against its input shape like a wire request, then
    the operations table's control function (no HTTP, no signature: the console has its own sign-in)."""
    operations = wire_operations()
    settings = services.settings

    def call(name: str, params: dict[str, Any]) -> dict[str, Any]:
        ctx = RequestContext(services=services, region=settings.default_region, account_id=settings.account_id,
                             request_id=new_uuid())
        return OPERATIONS[name](ctx, validate(params, operations[name].model.input_shape))

    return call


def create_app(services: Services, lifespan: Any = None) -> Starlette:
    dispatcher = Dispatcher(services)
    allowed = services.settings.allowed_hosts
    console = build_console(services, console_caller(services), lambda host: host_name(host) in allowed,
                            REGISTRY.requests_per_operation)
    routes = [
        Route("/metrics", _metrics, methods=["GET"]),
        Route("/progress/{arn:path}", progress_route, methods=["GET"]),  # not an AWS operation (api/progress.py)
        Route("/", dispatcher.dispatch, methods=["POST"]),
        Route("/{path:path}", dispatcher.dispatch, methods=["POST"]),
    ]
    app = PersonalizeApp(dispatcher, Guard(services.settings), console, routes=routes, lifespan=lifespan)
    app.state.services = services
    return app
