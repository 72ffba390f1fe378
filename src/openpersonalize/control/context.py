"""What every handler receives: who is asking (region, account) and the services of this process."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Settings
    from ..data.store import DataStore
    from .store import Store


# True while a handler runs directly on the event loop (the runtime API's fast path, api/app.py). Code that
# would wait there (e.g. for a model to load) raises WouldBlock instead, and the call is retried on a thread.
ON_EVENT_LOOP: ContextVar[bool] = ContextVar("on_event_loop", default=False)


class WouldBlock(Exception):
    """Raised on the event loop by work that must wait; the dispatcher reruns the call in a thread."""


@dataclass
class Services:
    """The long-lived parts of one process, shared by handlers and job runners."""

    settings: "Settings"
    store: "Store"
    data: "DataStore"
    wake_worker: Any = None  # callable: nudges the in-process worker after an enqueue

    def nudge(self) -> None:
        if self.wake_worker is not None:
            self.wake_worker()


@dataclass
class RequestContext:
    services: Services
    region: str
    account_id: str
    request_id: str

    @property
    def store(self) -> "Store":
        return self.services.store
