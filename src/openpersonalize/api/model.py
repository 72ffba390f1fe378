"""The three Personalize service models, loaded from the botocore install (authoritative for the wire)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import botocore.session
from botocore.model import OperationModel, ServiceModel

CONTROL = "personalize"
RUNTIME = "personalize-runtime"
EVENTS = "personalize-events"
SERVICES = (CONTROL, RUNTIME, EVENTS)
TARGET_PREFIX = "AmazonPersonalize."


@dataclass(frozen=True)
class WireOperation:
    service: str
    name: str
    model: OperationModel

    @property
    def rest(self) -> bool:
        """REST-JSON services (runtime, events) route by path and may use 404/409."""
        return self.service != CONTROL


@cache
def service_model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


@cache
def wire_operations() -> dict[str, WireOperation]:
    """Every operation of the three services by AWS name (79 in botocore 1.43)."""
    ops: dict[str, WireOperation] = {}
    for service in SERVICES:
        model = service_model(service)
        for name in model.operation_names:
            ops[name] = WireOperation(service, name, model.operation_model(name))
    return ops


@cache
def rest_routes() -> dict[str, WireOperation]:
    """``/recommendations`` → GetRecommendations, ``/events`` → PutEvents, …"""
    return {
        op.model.http["requestUri"]: op
        for op in wire_operations().values()
        if op.rest
    }
