"""The wire protocol itself: routing, operation table, error shapes, request ids."""

from __future__ import annotations

from typing import Any

import botocore.session
import httpx
import pytest
from botocore.exceptions import ClientError

from openpersonalize.api.operations import OPERATIONS


def test_operations_table_covers_every_botocore_operation() -> None:
    session = botocore.session.get_session()
    names = set()
    for service in ("personalize", "personalize-runtime", "personalize-events"):
        names |= set(session.get_service_model(service).operation_names)
    assert set(OPERATIONS) == names
    assert len(names) == 79


def test_unknown_target_is_unknown_operation(server: Any) -> None:
    response = httpx.post(
        server.url + "/",
        headers={"X-Amz-Target": "AmazonPersonalize.MakeCoffee", "Content-Type": "application/x-amz-json-1.1"},
        content=b"{}",
    )
    assert response.status_code == 400
    assert response.json()["__type"] == "UnknownOperationException"
    assert response.headers["x-amzn-RequestId"]


def test_malformed_json_is_a_client_error(server: Any) -> None:
    response = httpx.post(
        server.url + "/",
        headers={"X-Amz-Target": "AmazonPersonalize.ListSchemas", "Content-Type": "application/x-amz-json-1.1"},
        content=b"{not json",
    )
    assert response.status_code == 400
    assert response.json()["__type"] == "SerializationException"


def test_server_side_validation_of_pattern_and_max(personalize: Any) -> None:
    # botocore checks min length only; pattern and max are the server's job (spec §1.6).
    with pytest.raises(ClientError) as err:
        personalize.create_dataset_group(name="bad name!")
    assert err.value.response["Error"]["Code"] == "InvalidInputException"
    assert "name" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        personalize.create_dataset_group(name="x" * 64)
    assert "length less than or equal to 63" in err.value.response["Error"]["Message"]


def test_enum_is_validated(personalize: Any) -> None:
    with pytest.raises(ClientError) as err:
        personalize.create_dataset_group(name="enumcheck", domain="GROCERY")
    assert err.value.response["Error"]["Code"] == "InvalidInputException"
    assert "enum" in err.value.response["Error"]["Message"]


def test_request_id_is_returned(personalize: Any) -> None:
    with pytest.raises(ClientError) as err:
        personalize.describe_schema(schemaArn="arn:aws:personalize:us-east-1:123456789012:schema/none")
    assert err.value.response["ResponseMetadata"]["RequestId"]


def test_prometheus_metrics(server: Any, personalize: Any) -> None:
    personalize.list_schemas()
    with pytest.raises(ClientError):
        personalize.describe_schema(schemaArn="arn:aws:personalize:us-east-1:123456789012:schema/none")
    text = httpx.get(server.url + "/metrics").text
    assert 'openpersonalize_requests_total{operation="ListSchemas",status="200"}' in text
    assert 'openpersonalize_request_errors_total{operation="DescribeSchema"}' in text
    assert 'openpersonalize_request_duration_seconds_bucket{operation="ListSchemas",le="+Inf"}' in text
    assert "# TYPE openpersonalize_request_duration_seconds histogram" in text


def test_runtime_calls_run_on_the_loop_and_move_to_a_thread_rather_than_wait() -> None:
    import asyncio

    from openpersonalize.api.app import _call
    from openpersonalize.blocking import ON_EVENT_LOOP, WouldBlock

    seen: list[bool] = []

    def handler(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        seen.append(ON_EVENT_LOOP.get())
        if ON_EVENT_LOOP.get():
            raise WouldBlock("a model is still loading")
        return {"answered": True}

    assert asyncio.run(_call(handler, "GetRecommendations", None, {})) == {"answered": True}  # type: ignore[arg-type]
    assert seen == [True, False]
    seen.clear()
    asyncio.run(_call(handler, "ListSchemas", None, {}))  # type: ignore[arg-type]
    assert seen == [False]  # control-plane calls always run on a thread
