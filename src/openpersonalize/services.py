"""The long-lived parts of one process, shared by handlers (through control) and job runners."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .config import Settings
from .data.metadata import Store
from .data.store import DataStore
from .serving.actions import ActionServing


@dataclass
class Services:
    """What one process holds for its whole life: settings, the metadata store, the data store."""

    settings: Settings
    store: Store
    data: DataStore
    wake_worker: Callable[[], None] | None = None  # nudges the in-process worker after an enqueue
    actions: ActionServing = field(init=False)  # GetActionRecommendations' per-model action data

    def __post_init__(self) -> None:
        self.actions = ActionServing(self.store, self.data)

    def nudge(self) -> None:
        if self.wake_worker is not None:
            self.wake_worker()
