"""Assembles one process: settings → metadata store, data store, worker, ASGI app."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from .api.app import create_app
from .config import Settings
from .services import Services
from .data.metadata import Store
from .data.objects import S3Objects, open_object_store
from .data.store import DataStore
from .control import scheduling
from .control.job_table import all_runners
from .jobs.worker import Worker

log = logging.getLogger("openpersonalize")


def build_services(settings: Settings) -> Services:
    settings.ensure_dirs()
    objects = open_object_store(settings.object_store, settings.data_dir)
    if isinstance(objects, S3Objects):
        objects.check_access()
    data = DataStore(settings.data_dir, objects, settings.events_url or None)
    return Services(settings=settings, store=Store(settings.metadata_database_url), data=data)


def build_worker(services: Services, threads: int) -> Worker:
    """The job worker with every runner (jobs' and control's) and the scheduler's tick."""
    return Worker(services, all_runners(), scheduling.tick, threads=threads)


def build_app(settings: Settings, run_worker: bool = True) -> Starlette:
    """The app, with the in-process worker started and stopped with the server's lifespan."""
    services = build_services(settings)
    worker = build_worker(services, settings.worker_threads) if run_worker else None
    if worker is not None:
        services.wake_worker = worker.wake

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not settings.access_keys:
            log.warning("no access keys configured (OPENPERSONALIZE_ACCESS_KEYS): any credentials are accepted")
        if worker is not None:
            worker.start()
        # Everything imported so far lives as long as the process: out of the collector's sight, a full
        # collection visits what requests and models add, not ~200k module objects (100-200 ms of a stalled
        # event loop each time, the slowest 1 % of recommendations in bench/serving.py).
        gc.freeze()
        yield
        if worker is not None:
            worker.stop()
        services.close()  # the recommendation ids not yet written

    return create_app(services, lifespan=lifespan)
