"""Sign in with an access key id and its secret (only when access keys are configured), and sign out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .app import PREFIX, console_of, field_of, posted
from .security import COOKIE


async def login_page(request: Request, failed: bool = False) -> Response:
    console = console_of(request)
    if not console.gate.login_required:
        return RedirectResponse(f"{PREFIX}/", status_code=303)
    return console.render(request, "login.html", status=401 if failed else 200, title="Sign in", failed=failed)


async def login(request: Request) -> Response:
    form = await posted(request)
    gate = console_of(request).gate
    key_id = field_of(form, "accessKeyId")
    if not gate.check_login(key_id, str(form.get("secretAccessKey") or "")):
        return await login_page(request, failed=True)
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    # A new session id at login: a session id planted before it (fixation) is worth nothing after it.
    response.set_cookie(COOKIE, gate.cookie(gate.new_session(key_id)), httponly=True, samesite="strict", path="/")
    return response


async def logout(request: Request) -> Response:
    await posted(request)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


ROUTES = [
    Route(f"{PREFIX}/login", login_page, methods=["GET"]),
    Route(f"{PREFIX}/login", login, methods=["POST"]),
    Route(f"{PREFIX}/logout", logout, methods=["POST"]),
]
