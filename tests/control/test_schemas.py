"""CreateSchema / DescribeSchema / ListSchemas / DeleteSchema through boto3 (spec §2.2, §4).

Every validation rule is covered in tests/data/test_schema.py; here the wire: codes, messages, round trips.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import LiveServer, unique, wait_for

ACCOUNT_PREFIX = "arn:aws:personalize:us-east-1:123456789012"


def avro(name: str, *fields: tuple[str, Any] | dict[str, Any]) -> str:
    listed = [f if isinstance(f, dict) else {"name": f[0], "type": f[1]} for f in fields]
    return json.dumps({"type": "record", "name": name, "namespace": "com.amazonaws.personalize.schema",
                       "fields": listed, "version": "1.0"})


INTERACTIONS = avro("Interactions", ("USER_ID", "string"), ("ITEM_ID", "string"), ("TIMESTAMP", "long"))


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def test_create_and_describe_round_trip(personalize: Any) -> None:
    name = unique("s")
    arn = personalize.create_schema(name=name, schema=INTERACTIONS)["schemaArn"]
    assert arn == f"{ACCOUNT_PREFIX}:schema/{name}"
    schema = personalize.describe_schema(schemaArn=arn)["schema"]
    assert schema["name"] == name and schema["schemaArn"] == arn
    assert schema["schema"] == INTERACTIONS  # the stored string, byte for byte
    assert "domain" not in schema and "status" not in schema
    assert schema["creationDateTime"] == schema["lastUpdatedDateTime"]


def test_create_domain_schema(personalize: Any) -> None:
    text = avro("Items", ("ITEM_ID", "string"), ("PRICE", "float"),
                {"name": "CATEGORY_L1", "type": ["string"], "categorical": True})
    arn = personalize.create_schema(name=unique("s"), schema=text, domain="ECOMMERCE")["schemaArn"]
    assert personalize.describe_schema(schemaArn=arn)["schema"]["domain"] == "ECOMMERCE"


@pytest.mark.parametrize(
    ("text", "domain", "fragment"),
    [
        ("not json", None, "The schema is not valid JSON"),
        (avro("Interactions", ("USER_ID", "string"), ("ITEM_ID", "string")), None,
         "must contain the required fields USER_ID, ITEM_ID, TIMESTAMP; missing: TIMESTAMP"),
        (avro("Interactions", ("USER_ID", "string"), ("ITEM_ID", "string"), ("TIMESTAMP", "long"),
              ("TAGS", {"type": "map", "values": "string"})), None, "only primitive types"),
        (avro("Users", ("USER_ID", "string"), {"name": "AGE", "type": "int", "categorical": True}), None,
         "'AGE' has type int but 'categorical' is only allowed on string fields"),
        (INTERACTIONS, "VIDEO_ON_DEMAND", "missing: EVENT_TYPE"),
        (avro("Actions", ("ACTION_ID", "string"), ("VALUE", "long")), "ECOMMERCE", "not supported in ECOMMERCE"),
        (avro("Purchases", ("USER_ID", "string")), None, "record name 'Purchases'"),
    ],
)
def test_invalid_schema_is_invalid_input(personalize: Any, text: str, domain: str | None, fragment: str) -> None:
    kwargs = {"domain": domain} if domain else {}
    code, message = error_of(personalize.create_schema, name=unique("s"), schema=text, **kwargs)
    assert code == "InvalidInputException"
    assert fragment in message


def test_schema_over_20000_characters_is_invalid(personalize: Any) -> None:
    code, message = error_of(personalize.create_schema, name=unique("s"), schema=INTERACTIONS + " " * 20000)
    assert code == "InvalidInputException" and "length less than or equal to 20000" in message


def test_same_name_is_already_exists(personalize: Any) -> None:
    name = unique("s")
    personalize.create_schema(name=name, schema=INTERACTIONS)
    code, message = error_of(personalize.create_schema, name=name, schema=INTERACTIONS)
    assert code == "ResourceAlreadyExistsException" and f"schema with the name '{name}' already exists" in message


def test_describe_unknown_is_not_found(personalize: Any) -> None:
    arn = f"{ACCOUNT_PREFIX}:schema/{unique('nope')}"
    code, message = error_of(personalize.describe_schema, schemaArn=arn)
    assert code == "ResourceNotFoundException" and f"Could not find schema with ARN {arn}" in message


def test_list_walks_every_page_with_max_results_1(personalize: Any) -> None:
    mine = {personalize.create_schema(name=unique("s"), schema=INTERACTIONS)["schemaArn"] for _ in range(2)}
    seen: list[str] = []
    kwargs: dict[str, Any] = {"maxResults": 1}
    while True:
        page = personalize.list_schemas(**kwargs)
        assert len(page["schemas"]) <= 1
        seen += [s["schemaArn"] for s in page["schemas"]]
        if "nextToken" not in page:
            break
        kwargs["nextToken"] = page["nextToken"]
    assert mine <= set(seen) and len(seen) == len(set(seen))
    summary = next(s for s in personalize.list_schemas()["schemas"] if s["schemaArn"] in mine)
    assert "schema" not in summary and {"name", "schemaArn", "creationDateTime"} <= set(summary)


def test_list_rejects_a_garbage_token(personalize: Any) -> None:
    code, _ = error_of(personalize.list_schemas, nextToken="eyJrIjogImZvbyJ9")
    assert code == "InvalidNextTokenException"


def test_a_token_of_another_list_is_rejected(personalize: Any) -> None:
    personalize.create_dataset_group(name=unique("dg"))
    personalize.create_dataset_group(name=unique("dg"))
    token = personalize.list_dataset_groups(maxResults=1)["nextToken"]
    code, _ = error_of(personalize.list_schemas, nextToken=token)
    assert code == "InvalidNextTokenException"


def test_delete_removes_the_schema(personalize: Any) -> None:
    arn = personalize.create_schema(name=unique("s"), schema=INTERACTIONS)["schemaArn"]
    personalize.delete_schema(schemaArn=arn)
    code, _ = error_of(personalize.describe_schema, schemaArn=arn)
    assert code == "ResourceNotFoundException"
    assert arn not in [s["schemaArn"] for s in personalize.list_schemas()["schemas"]]


def test_delete_unknown_is_not_found(personalize: Any) -> None:
    code, _ = error_of(personalize.delete_schema, schemaArn=f"{ACCOUNT_PREFIX}:schema/{unique('nope')}")
    assert code == "ResourceNotFoundException"


def test_delete_is_refused_while_a_dataset_uses_it(personalize: Any) -> None:
    group = personalize.create_dataset_group(name=unique("dg"))["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
    arn = personalize.create_schema(name=unique("s"), schema=INTERACTIONS)["schemaArn"]
    dataset = personalize.create_dataset(name=unique("d"), schemaArn=arn, datasetGroupArn=group, datasetType="INTERACTIONS")
    code, message = error_of(personalize.delete_schema, schemaArn=arn)
    assert code == "ResourceInUseException"
    assert dataset["datasetArn"] in message


# ---- quota: a server of its own, so that the count is known --------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    live = LiveServer(tmp_path_factory.mktemp("schema-quota"), env={"OPENPERSONALIZE_QUOTA_ACTIVE_SCHEMAS": "2"})
    live.start()
    yield live.client("personalize")
    live.stop()


def test_list_key_is_present_when_empty(small: Any) -> None:
    assert small.list_schemas()["schemas"] == []


def test_quota_of_schemas(small: Any) -> None:
    first = small.create_schema(name=unique("s"), schema=INTERACTIONS)["schemaArn"]
    small.create_schema(name=unique("s"), schema=INTERACTIONS)
    code, message = error_of(small.create_schema, name=unique("s"), schema=INTERACTIONS)
    assert code == "LimitExceededException" and "already has 2 schemas" in message
    small.delete_schema(schemaArn=first)
    assert small.create_schema(name=unique("s"), schema=INTERACTIONS)["schemaArn"]
