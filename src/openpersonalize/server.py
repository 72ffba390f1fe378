"""Assembles one process: settings → metadata store, data store, worker, ASGI app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from .api.app import create_app
from .config import Settings
from .services import Services
from .data.metadata import Store
from .data.store import DataStore
from .jobs.worker import Worker

log = logging.getLogger("openpersonalize")


def build_services(settings: Settings) -> Services:
    settings.ensure_dirs()
    return Services(settings=settings, store=Store(settings.metadata_database_url), data=DataStore(settings.data_dir))


def build_app(settings: Settings, run_worker: bool = True) -> Starlette:
    """The app, with the in-process worker started and stopped with the server's lifespan."""
    services = build_services(settings)
    worker = Worker(services, threads=settings.worker_threads) if run_worker else None
    if worker is not None:
        services.wake_worker = worker.wake

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not settings.access_keys:
            log.warning("no access keys configured (OPENPERSONALIZE_ACCESS_KEYS): any credentials are accepted")
        if worker is not None:
            worker.start()
        yield
        if worker is not None:
            worker.stop()
        services.close()  # the recommendation ids not yet written

    return create_app(services, lifespan=lifespan)
