"""The long-lived parts of one process, shared by handlers (through control) and job runners."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from .config import Settings
from .data.metadata import Store
from .data.store import DataStore
from .serving.cache import CacheStats
from .serving.state import ServingState


@dataclass
class Services:
    """What one process holds for its whole life: settings, the metadata store, the data store, and — built on
    first use, so a worker-only process loads no model — the serving state."""

    settings: Settings
    store: Store
    data: DataStore
    wake_worker: Callable[[], None] | None = None  # nudges the in-process worker after an enqueue
    _serving: ServingState | None = field(default=None, init=False, repr=False)
    _serving_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def nudge(self) -> None:
        if self.wake_worker is not None:
            self.wake_worker()

    @cached_property
    def serving(self) -> ServingState:
        """Built once (under a lock: two request threads must not build two); later reads are a plain attribute."""
        with self._serving_lock:
            if self._serving is None:
                self._serving = ServingState(self.store, self.data, self.settings.model_idle_seconds,
                                             shortlist_bytes=self.settings.shortlist_bytes,
                                             realtime_users=self.settings.realtime_users)
        return self._serving

    def record_changed(self, arn: str) -> None:
        """A resource record changed in this process: serving reads it again at its next request."""
        if self._serving is not None:
            self._serving.forget_record(arn)

    def cache_stats(self) -> list[CacheStats]:
        """Every serving cache's counters (none before anything was served)."""
        return [] if self._serving is None else self._serving.stats()

    def close(self) -> None:
        if self._serving is not None:
            self._serving.close()
