"""Every console route, behind the gate (app.py); api/app.py builds this once per server."""

from __future__ import annotations

from collections.abc import Callable

from ..services import Services
from . import data_pages, groups, login, resources, serving, training
from .app import Call, ConsoleGate, console_app


def build_console(services: Services, call: Call, host_allowed: Callable[[str], bool],
                  requests_per_operation: Callable[[], dict[str, int]]) -> ConsoleGate:
    routes = [*login.ROUTES, *groups.ROUTES, *data_pages.ROUTES, *training.ROUTES, *serving.ROUTES, *resources.ROUTES]
    return console_app(services, call, host_allowed, requests_per_operation, routes)
