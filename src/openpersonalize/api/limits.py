"""What a request must be before anything is buffered for it (README "Security").

``Guard`` runs first for every HTTP request. Before reading the body it refuses: a foreign ``Host`` when no
access keys are set (DNS rebinding: a web page's own host name), a POST whose content type is not one an AWS
SDK sends (a browser's CORS "simple" request can only send text/plain, form types or none), a declared body
over the cap, and — with keys set — an unsigned request or an unknown key id. Then it reads the body up to the
cap, refuses JSON nested deeper than ``MAX_JSON_DEPTH`` or holding more than ``MAX_JSON_VALUES`` values, and
checks the signature of ``/metrics`` (which has no dispatcher of its own to do it). ``GuardedHttpTools`` caps the
request head and closes a connection whose head or body does not arrive within ``OPENPERSONALIZE_REQUEST_SECONDS``,
which uvicorn does not.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..config import Settings
from ..errors import PersonalizeError
from ..ids import new_uuid
from . import auth

Receive = Callable[[], Awaitable[dict[str, Any]]]
JSON_11 = "application/x-amz-json-1.1"
# Exactly what the SDKs send: JSON 1.1 for the control plane, JSON for the REST-JSON runtime and events APIs.
API_MEDIA = frozenset({"application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/json"})
MAX_JSON_DEPTH = 64  # the deepest Personalize shape nests a handful of levels; recursion stays far away
MAX_JSON_VALUES = 100_000  # the largest Personalize request holds a few thousand (500 ranking inputs, 200 tags)
# A string, or an unterminated one up to the end: without the optional closing quote a body of escaped quotes
# that never closes is rescanned to its end from every quote (quadratic: 64 KiB held the event loop for 12 s).
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


class Refused(PersonalizeError):
    """A request refused before it reached the dispatcher; ``code`` and ``status`` per case."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.rest_status = code, status, status


def host_name(host: str) -> str:
    """The name part of a Host header: ``[::1]:8080`` → ``[::1]``, ``localhost:80`` → ``localhost``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def json_shape_problem(body: bytes) -> str | None:
    """Why a JSON body's shape is refused, or None: brackets outside strings nested deeper than
    ``MAX_JSON_DEPTH``, or more than ``MAX_JSON_VALUES`` values (4 MiB of ``{},`` is 1.4M dicts, 130 MB, and
    half a second of parsing on the event loop). Linear; the string pass only runs for bodies with many
    brackets or commas."""
    brackets = body.count(b"[") + body.count(b"{")
    if brackets <= MAX_JSON_DEPTH and brackets + body.count(b",") <= MAX_JSON_VALUES:
        return None
    bare = _STRING.sub(b'""', body)
    if bare.count(b"[") + bare.count(b"{") + bare.count(b",") > MAX_JSON_VALUES:
        return f"The request body holds more than {MAX_JSON_VALUES} JSON values."
    depth = 0
    for bracket in _BRACKETS.findall(bare):
        depth += 1 if bracket in (b"[", b"{") else -1
        if depth > MAX_JSON_DEPTH:
            return f"The request body nests JSON deeper than {MAX_JSON_DEPTH} levels."
    return None


class Guard:
    """The checks of this module's docstring, in front of ``app``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def admit(self, scope: Any, receive: Receive) -> Receive:
        """A receive that replays the checked body; Refused when the request must not go further."""
        self._check_head(scope)
        body = await self._read(receive) if scope["method"] == "POST" else b""
        problem = json_shape_problem(body)
        if problem is not None:
            raise Refused("SerializationException", 400, problem)
        if scope["path"] == "/metrics" and self.settings.access_keys:
            request = Request(scope)
            caller = auth.parse_authorization(request.headers.get("authorization"))
            auth.check_caller(caller, self.settings.access_keys, auth.incoming(request, body))
        return _replay(body, receive)

    def _check_head(self, scope: Any) -> None:
        # The head's size was capped by GuardedHttpTools before it was parsed; here it is only read.
        headers: dict[bytes, bytes] = dict(scope["headers"])  # one pass; the names are lower-case in ASGI
        if len(headers) < len(scope["headers"]) and sum(name == b"host" for name, _ in scope["headers"]) > 1:
            # the dict kept the last Host; a proxy routing on the first would disagree (RFC 9112: answer 400)
            raise Refused("InvalidRequestException", 400, "The request has more than one Host header.")
        keys = self.settings.access_keys
        if not keys and host_name(headers.get(b"host", b"").decode("latin-1")) not in self.settings.allowed_hosts:
            raise Refused("AccessDeniedException", 403,
                          "The Host header is not one this server answers (OPENPERSONALIZE_ALLOWED_HOSTS).")
        if scope["method"] == "POST":
            self._check_post(headers)
        if keys:  # before the body is read: an unsigned caller costs nothing
            authorization = headers.get(b"authorization", b"").decode("latin-1") or None
            auth.check_caller_known(auth.parse_authorization(authorization), keys)

    def _check_post(self, headers: dict[bytes, bytes]) -> None:
        media = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower().decode("latin-1")
        if media not in API_MEDIA:
            raise Refused("UnsupportedMediaTypeException", 415,
                          f"Content-Type {media or '(none)'!r} is not accepted; use {JSON_11} or application/json.")
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.strip().isdigit() or int(declared) > self.settings.max_body_bytes):
            raise self._too_large()

    async def _read(self, receive: Receive) -> bytes:
        """The body, counted against the cap as it arrives. Its deadline is GuardedHttpTools' (an asyncio timeout
        here would cost 7 us per request on the runtime's hot path); that closes the connection, seen here as a
        disconnect."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Refused("RequestTimeoutException", 408, "The connection closed before the request body arrived.")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.settings.max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _too_large(self) -> Refused:
        return Refused("RequestEntityTooLargeException", 413, f"The request body exceeds {self.settings.max_body_bytes} bytes.")


def _replay(body: bytes, original: Receive) -> Receive:
    """The checked body as one message, then the server's own receive (which reports a real disconnect)."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return await original()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def refuse(scope: Any, send: Any, error: PersonalizeError) -> None:
    """The refusal, AWS-shaped (``__type`` and ``message``, as the dispatcher renders errors)."""
    rest = scope["path"] != "/"
    body = orjson.dumps({"__type": error.code, "message": error.message})
    media = b"application/json" if rest else JSON_11.encode()
    headers = [(b"content-type", media), (b"content-length", str(len(body)).encode()),
               (b"x-amzn-requestid", new_uuid().encode()), (b"x-amzn-errortype", error.code.encode()),
               (b"connection", b"close")]
    await send({"type": "http.response.start", "status": error.http_status(rest), "headers": headers})
    await send({"type": "http.response.body", "body": body})


SWEEP_SECONDS = 0.5  # how often deadlines are checked: a deadline fires up to this late


class _Deadlines:
    """One event loop's connections with a deadline, checked every ``SWEEP_SECONDS``. A timer per request (one
    for the head, one for the body, each started and cancelled) cost several microseconds of every request;
    setting a number costs nothing, and one sweep serves every connection."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.connections: weakref.WeakSet[GuardedHttpTools] = weakref.WeakSet()
        self.handle: asyncio.TimerHandle | None = None

    def add(self, connection: GuardedHttpTools) -> None:
        self.connections.add(connection)
        if self.handle is None:
            self.handle = self.loop.call_later(SWEEP_SECONDS, self.sweep)

    def sweep(self) -> None:
        now = self.loop.time()
        for connection in list(self.connections):
            connection.check_deadline(now)
        self.handle = self.loop.call_later(SWEEP_SECONDS, self.sweep) if self.connections else None


class _CoalescingTransport:
    """The connection's transport with the writes of one loop step sent as one: uvicorn writes a response's head
    and its body separately, and each write to a loopback socket wakes the client (and on a busy machine hands
    it the CPU) before the rest arrives. Buffered writes go out at the end of the step (``call_soon``), or
    before the transport closes."""

    __slots__ = ("_transport", "_loop", "_pending")

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop, self._pending = transport, loop, []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        if self._pending:
            data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
            self._pending = []
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        return getattr(self._transport, name)


_DEADLINES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Deadlines] = weakref.WeakKeyDictionary()


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a cap on the request head and deadlines for the head and the body.

    httptools keeps a header value whole until it ends, so a 200 MB header is buffered (and parsed while every
    other client waits) unless the raw bytes are counted before they reach the parser.
    """

    max_head_bytes = 64 << 10
    head_seconds = 30.0

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = _CoalescingTransport(transport, self.loop)  # type: ignore[assignment]
        self._in_head, self._head_bytes, self._tail = True, 0, b""
        self._in_body = False
        self._deadline: float | None = self.loop.time() + self.head_seconds
        deadlines = _DEADLINES.get(self.loop)
        if deadlines is None:
            deadlines = _DEADLINES[self.loop] = _Deadlines(self.loop)
        deadlines.add(self)

    def data_received(self, data: bytes) -> None:
        if self._in_head and not self._count_head(data):
            self._refuse_head(431, b"Request Header Fields Too Large")
            return
        super().data_received(data)

    def _count_head(self, data: bytes) -> bool:
        """Count head bytes up to the blank line; False when the head is over the cap."""
        if self._deadline is None:  # the first bytes of a new request on a kept-alive connection
            self._deadline = self.loop.time() + self.head_seconds
        window = self._tail + data
        end = window.find(b"\r\n\r\n")
        self._head_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._tail))
        self._tail = window[-3:]
        if end >= 0:
            self._in_head, self._tail, self._deadline = False, b"", None
        return self._head_bytes <= self.max_head_bytes

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._in_body, self._deadline = True, self.loop.time() + self.head_seconds

    def on_message_complete(self) -> None:
        self._in_body, self._deadline = False, None
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0  # the next bytes on this connection start a new head

    def check_deadline(self, now: float) -> None:
        """Called by the loop's sweep: refuse a head or body that is late, close a connection that never spoke."""
        if self._deadline is None or now < self._deadline or self.transport.is_closing():
            return
        self._deadline = None
        if self._in_body:
            message = b'{"__type":"RequestTimeoutException","message":"The request body did not arrive in time."}'
            self._refuse_head(408, b"Request Timeout", message)
        elif self._in_head and self._head_bytes:
            self._refuse_head(408, b"Request Timeout")
        elif self._in_head and self.cycle is None:
            self.transport.close()  # a connection that never sent a byte

    def _refuse_head(self, status: int, reason: bytes, body: bytes = b"") -> None:
        self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                             b"connection: close\r\n\r\n%s" % (status, reason, len(body), body))
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline = None
        deadlines = _DEADLINES.get(self.loop)
        if deadlines is not None:
            deadlines.connections.discard(self)
        super().connection_lost(exc)


def guarded_protocol(settings: Settings) -> type[GuardedHttpTools]:
    """The protocol class with this deployment's head cap and deadline (uvicorn instantiates it per connection)."""
    limits = {"max_head_bytes": settings.max_header_bytes, "head_seconds": settings.request_seconds}
    return type("GuardedHttpTools", (GuardedHttpTools,), limits)
