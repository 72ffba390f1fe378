"""No client mistake reaches a 5xx: every operation, fed empty, wrongly typed and well-typed nonsense input.

A 5xx tells boto3 to retry and hides the real problem; AWS answers 4xx with a named error (spec §1.4).
"""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
from botocore.model import Shape

from openpersonalize.api.model import wire_operations

OPERATIONS = sorted(wire_operations())


def _plausible(shape: Shape, rng: random.Random, depth: int = 0) -> Any:
    """A value of the right type (not necessarily valid): strings look like ARNs or names."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 3:
            return {}
        return {k: _plausible(m, rng, depth + 1) for k, m in shape.members.items() if rng.random() < 0.7}  # type: ignore[attr-defined]
    if kind == "list":
        return [_plausible(shape.member, rng, depth + 1) for _ in range(rng.randint(0, 2))]  # type: ignore[attr-defined]
    if kind == "map":
        return {"KEY": _plausible(shape.value, rng, depth + 1)}  # type: ignore[attr-defined]
    if kind == "string":
        enum = shape.metadata.get("enum")
        if enum:
            return rng.choice(enum)
        return rng.choice(["arn:aws:personalize:us-east-1:123456789012:solution/x", "name-1", "{}", "", "x" * 300, '{"a":1}'])
    if kind == "boolean":
        return rng.random() < 0.5
    if kind in ("integer", "long"):
        return rng.choice([0, 1, 25, -5, 10**9])
    if kind in ("float", "double"):
        return rng.choice([0.0, 0.5, -1.0, 1e9])
    if kind == "timestamp":
        return rng.choice([0, 1700000000, 1e12])
    return None


def _send(server: Any, name: str, body: Any) -> httpx.Response:
    op = wire_operations()[name]
    if op.rest:
        return httpx.post(server.url + op.model.http["requestUri"], json=body, timeout=30)
    headers = {"X-Amz-Target": f"AmazonPersonalize.{name}", "Content-Type": "application/x-amz-json-1.1"}
    return httpx.post(server.url + "/", json=body, headers=headers, timeout=30)


@pytest.mark.parametrize("name", OPERATIONS)
def test_no_server_error_for_any_input(server: Any, name: str) -> None:
    shape = wire_operations()[name].model.input_shape
    rng = random.Random(name)
    bodies: list[Any] = [{}, [], "text", {"unexpected": True}]
    if shape is not None:
        bodies.append({k: 12345 for k in shape.members})  # every member wrongly typed
        bodies += [_plausible(shape, rng) for _ in range(6)]
    for body in bodies:
        response = _send(server, name, body)
        assert response.status_code < 500, (body, response.text)
        if response.status_code >= 400:
            assert response.json()["__type"], response.text
