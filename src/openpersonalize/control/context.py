"""What every handler receives: who is asking (region, account) and the services of this process."""

from __future__ import annotations

from dataclasses import dataclass

from ..data.metadata import Store
from ..services import Services


@dataclass
class RequestContext:
    services: Services
    region: str
    account_id: str
    request_id: str

    @property
    def store(self) -> Store:
        return self.services.store
