"""Who may wait: the runtime API's fast path runs handlers on the event loop, where nothing may block."""

from __future__ import annotations

from contextvars import ContextVar

# True while a handler runs directly on the event loop (api/app.py). Code that would wait there (e.g. for a
# model to load) raises WouldBlock instead, and the call is retried on a thread.
ON_EVENT_LOOP: ContextVar[bool] = ContextVar("on_event_loop", default=False)


class WouldBlock(Exception):
    """Raised on the event loop by work that must wait; the dispatcher reruns the call in a thread."""
