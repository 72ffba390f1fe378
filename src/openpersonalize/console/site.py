"""Every console route, behind the gate (app.py); api/app.py builds this once per server."""

from __future__ import annotations

from collections.abc import Callable

from ..services import Services
from .data_pages import ROUTES as DATA_ROUTES
from .groups import ROUTES as GROUP_ROUTES
from .login import ROUTES as LOGIN_ROUTES
from .resources import ROUTES as RESOURCE_ROUTES
from .serving import ROUTES as SERVING_ROUTES
from .training import ROUTES as TRAINING_ROUTES
from .app import Call, ConsoleGate, console_app


def build_console(services: Services, call: Call, host_allowed: Callable[[str], bool],
                  requests_per_operation: Callable[[], dict[str, int]]) -> ConsoleGate:
    routes = [*LOGIN_ROUTES, *GROUP_ROUTES, *DATA_ROUTES, *TRAINING_ROUTES, *SERVING_ROUTES, *RESOURCE_ROUTES]
    return console_app(services, call, host_allowed, requests_per_operation, routes)
