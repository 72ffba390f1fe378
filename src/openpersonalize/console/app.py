"""The console's ASGI app: routes, the gate in front of them, and the one way pages render.

api/app.py mounts it (``/`` redirects here) and hands it ``call``: an AWS operation by name, validated against
its botocore shape and run by the same control function the wire API runs, so the console and the API cannot
disagree. Views never speak HTTP to the server and never touch storage; errors of control (errors.py) are shown
on the page with their AWS code and message.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import PersonalizeError
from ..services import Services
from .charts import bars, columns, curve, progress, rows
from .security import COOKIE, CSRF_FIELD, CSRF_HEADER, Gate, Session

Call = Callable[[str, dict[str, Any]], dict[str, Any]]
HERE = Path(__file__).parent
PREFIX = "/console"
UPLOAD_PATH = f"{PREFIX}/upload"
OPEN_PATHS = (f"{PREFIX}/login", f"{PREFIX}/static/")  # reachable before login


class Forbidden(Exception):
    """A POST without the session's CSRF token."""


@dataclass
class Console:
    """What every view needs: the services, the operation caller, the gate and the templates."""

    services: Services
    call: Call
    gate: Gate
    host_allowed: Callable[[str], bool]
    requests_per_operation: Callable[[], dict[str, int]]
    env: Environment = field(init=False)
    cache: dict[str, Any] = field(default_factory=dict)  # facts that never change while the process runs

    def __post_init__(self) -> None:
        # Autoescape on for every template: ids, names and item metadata are user data.
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
        # the templates draw through one `charts` namespace
        charts = SimpleNamespace(bars=bars, columns=columns, curve=curve, progress=progress, rows=rows)
        self.env.globals.update(link=link, charts=charts, when=when, static=f"{PREFIX}/static")
        self.env.filters["when"] = when

    async def run(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """The AWS operation ``name`` (control functions block on the metadata store: a thread)."""
        return await run_in_threadpool(self.call, name, params)

    async def run_each(self, name: str, params: dict[str, Any], key: str) -> list[dict[str, Any]]:
        """Every page of a List operation's ``key`` (the console shows whole lists; Personalize pages by 100)."""
        found, token = [], None
        while True:
            page = await self.run(name, {**params, "maxResults": 100, **({"nextToken": token} if token else {})})
            found += page.get(key, [])
            token = page.get("nextToken")
            if not token:
                return found

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        session = session_of(request)
        context.update(request=request, csrf=self.gate.csrf_token(session), csrf_field=CSRF_FIELD,
                       logged_in=session.key_id, login_required=self.gate.login_required)
        return HTMLResponse(self.env.get_template(template).render(context), status_code=status)

    def failed(self, request: Request, error: PersonalizeError, template: str, **context: Any) -> HTMLResponse:
        """The page again, with the AWS error on it (status 400, as the API would answer)."""
        return self.render(request, template, status=400, error=error, **context)


def console_of(request: Request) -> Console:
    return request.app.state.console  # type: ignore[no-any-return]


def session_of(request: Request) -> Session:
    return request.scope["console_session"]  # type: ignore[no-any-return]


def link(page: str, arn: str | None = None, **query: str) -> str:
    """The console URL of a page, with the resource ARN and extra query parameters escaped."""
    parts = ([f"arn={quote(arn, safe='')}"] if arn else []) + [f"{k}={quote(str(v), safe='')}" for k, v in query.items()]
    return f"{PREFIX}/{page}" + (f"?{'&'.join(parts)}" if parts else "")


def when(value: Any) -> str:
    """A wire timestamp (epoch seconds) as local time, or '' when absent."""
    if value in (None, ""):
        return ""
    if hasattr(value, "strftime"):
        return str(value.strftime("%Y-%m-%d %H:%M:%S"))
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(value)))


async def posted(request: Request, max_files: int = 0) -> FormData:
    """The form of a POST whose CSRF token (header or field) is the session's; Forbidden otherwise."""
    form = await request.form(max_files=max_files, max_fields=200)
    gate = console_of(request).gate
    token = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not gate.csrf_ok(session_of(request), token if isinstance(token, str) else None):
        await form.close()
        raise Forbidden
    return form


def field_of(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def back(url: str) -> RedirectResponse:
    """After a successful POST: the page to look at next (303, so a reload does not post again)."""
    return RedirectResponse(url, status_code=303)


# ---- the gate in front of every console route ------------------------------------------------------------------


class ConsoleGate:
    """Host check (no keys), body caps, the session cookie and the login requirement; see security.py."""

    def __init__(self, app: Starlette, console: Console) -> None:
        self.app, self.console = app, console

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v.decode("latin-1") for k, v in scope["headers"]}
        gate, settings = self.console.gate, self.console.services.settings
        if not gate.login_required and not self.console.host_allowed(headers.get(b"host", "")):
            await _answer(scope, receive, send, PlainTextResponse(
                "The Host header is not one this server answers (OPENPERSONALIZE_ALLOWED_HOSTS).", 403))
            return
        cap = settings.max_upload_bytes if scope["path"] == UPLOAD_PATH else settings.max_body_bytes
        declared = headers.get(b"content-length", "0").strip()
        if not declared.isdigit() or int(declared) > cap:
            await _answer(scope, receive, send, PlainTextResponse(f"The request body exceeds {cap} bytes.", 413))
            return
        session = gate.read(_cookie(headers.get(b"cookie", "")))
        fresh = session is None
        session = session or gate.new_session()
        scope["console_session"] = session
        if not gate.allowed(session) and not scope["path"].startswith(OPEN_PATHS) and scope["path"] != "/":
            response: Response = RedirectResponse(f"{PREFIX}/login", status_code=303)
            _set_cookie(response, gate.cookie(session))
            await response(scope, receive, send)
            return
        await self.app(scope, _capped(receive, cap), _with_cookie(send, gate.cookie(session)) if fresh else send)


async def _answer(scope: Any, receive: Any, send: Any, response: Response) -> None:
    await response(scope, receive, send)


def _cookie(header: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is no session
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


def _set_cookie(response: Response, value: str) -> None:
    response.set_cookie(COOKIE, value, httponly=True, samesite="strict", path="/")


def _with_cookie(send: Any, value: str) -> Callable[[dict[str, Any]], Awaitable[None]]:
    holder = Response()
    _set_cookie(holder, value)
    cookie_headers = [h for h in holder.raw_headers if h[0] == b"set-cookie"]

    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *cookie_headers]}
        await send(message)

    return wrapped


class TooLarge(Exception):
    """The body went past its cap while streaming (a chunked upload declares no length)."""


def _capped(receive: Any, cap: int) -> Any:
    seen = 0

    async def wrapped() -> dict[str, Any]:
        nonlocal seen
        message: dict[str, Any] = await receive()
        seen += len(message.get("body", b""))
        if seen > cap:
            raise TooLarge
        return message

    return wrapped


async def _forbidden(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("Forbidden: the form's CSRF token is missing or stale; reload the page and try again.", 403)


async def _too_large(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("The request body is larger than this server accepts (OPENPERSONALIZE_MAX_UPLOAD_BYTES).", 413)


def is_console_path(scope: Any) -> bool:
    """Whether the request is the console's: anything under /console, and GET / (the redirect)."""
    path = scope["path"]
    return path == PREFIX or path.startswith(f"{PREFIX}/") or (path == "/" and scope["method"] in ("GET", "HEAD"))


def console_app(services: Services, call: Call, host_allowed: Callable[[str], bool],
                requests_per_operation: Callable[[], dict[str, int]], routes: list[BaseRoute]) -> ConsoleGate:
    """The console app behind its gate (api/app.py routes ``is_console_path`` requests to it)."""
    console = Console(services, call, Gate(services.settings), host_allowed, requests_per_operation)
    everything = [
        Route("/", lambda request: RedirectResponse(f"{PREFIX}/", status_code=307), methods=["GET", "HEAD"]),
        Route(PREFIX, lambda request: RedirectResponse(f"{PREFIX}/", status_code=307), methods=["GET", "HEAD"]),
        Mount(f"{PREFIX}/static", app=StaticFiles(directory=HERE / "static"), name="static"),
        *routes,
    ]
    app = Starlette(routes=everything, exception_handlers={Forbidden: _forbidden, TooLarge: _too_large})
    app.state.console = console
    return ConsoleGate(app, console)
