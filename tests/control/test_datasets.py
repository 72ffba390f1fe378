"""CreateDataset / DescribeDataset / ListDatasets / DeleteDataset / UpdateDataset through boto3 (spec §2.3)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import LiveServer, unique, wait_for

from openpersonalize.errors import ResourceInUseException
from openpersonalize.control import dataset_groups, datasets, schemas
from openpersonalize.control.common import ACTIVE, new_record
from openpersonalize.control.context import RequestContext
from openpersonalize.data.store import DataStore

ACCOUNT_PREFIX = "arn:aws:personalize:us-east-1:123456789012"


def avro(name: str, *fields: tuple[str, Any] | dict[str, Any]) -> str:
    listed = [f if isinstance(f, dict) else {"name": f[0], "type": f[1]} for f in fields]
    return json.dumps({"type": "record", "name": name, "fields": listed})


GENRES = {"name": "GENRES", "type": "string", "categorical": True}
SCHEMAS = {
    "INTERACTIONS": avro("Interactions", ("USER_ID", "string"), ("ITEM_ID", "string"), ("TIMESTAMP", "long")),
    "ITEMS": avro("Items", ("ITEM_ID", "string"), GENRES),
    "USERS": avro("Users", ("USER_ID", "string"), ("AGE", "int")),
    "ACTIONS": avro("Actions", ("ACTION_ID", "string"), ("VALUE", ["long", "null"]), ("COST", "float")),
    "ACTION_INTERACTIONS": avro("ActionInteractions", ("USER_ID", "string"), ("ACTION_ID", "string"),
                                ("EVENT_TYPE", "string"), ("TIMESTAMP", "long")),
}


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def active_group(personalize: Any, **kwargs: Any) -> tuple[str, str]:
    name = unique("dg")
    arn = personalize.create_dataset_group(name=name, **kwargs)["datasetGroupArn"]
    assert wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"])["status"] == ACTIVE
    return str(arn), name


def new_schema(personalize: Any, text: str, domain: str | None = None) -> str:
    kwargs = {"domain": domain} if domain else {}
    return str(personalize.create_schema(name=unique("s"), schema=text, **kwargs)["schemaArn"])


def active_dataset(personalize: Any, group: str, dataset_type: str, schema: str | None = None) -> str:
    schema = schema or new_schema(personalize, SCHEMAS[dataset_type.upper()])
    arn = personalize.create_dataset(name=unique("d"), schemaArn=schema, datasetGroupArn=group, datasetType=dataset_type)["datasetArn"]
    assert wait_for(lambda: personalize.describe_dataset(datasetArn=arn)["dataset"])["status"] == ACTIVE
    return str(arn)


def wait_gone(describe: Callable[[], Any], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            describe()
        except ClientError as err:
            assert err.response["Error"]["Code"] == "ResourceNotFoundException"
            return
        time.sleep(0.05)
    raise AssertionError("the resource was not deleted in time")


# ---- create / describe / list ------------------------------------------------------------------------------


def test_one_dataset_of_every_type_in_a_custom_group(personalize: Any) -> None:
    group, group_name = active_group(personalize)
    created = {}
    for dataset_type in ("interactions", "Items", "USERS", "Actions", "action_interactions"):
        schema = new_schema(personalize, SCHEMAS[dataset_type.upper()])
        name = unique("d")
        arn = personalize.create_dataset(name=name, schemaArn=schema, datasetGroupArn=group, datasetType=dataset_type,
                                         tags=[{"tagKey": "type", "tagValue": dataset_type}])["datasetArn"]
        assert arn == f"{ACCOUNT_PREFIX}:dataset/{group_name}/{dataset_type.upper()}"
        dataset = wait_for(lambda: personalize.describe_dataset(datasetArn=arn)["dataset"])
        assert dataset["status"] == "ACTIVE" and dataset["name"] == name
        assert (dataset["datasetType"], dataset["schemaArn"], dataset["datasetGroupArn"]) == (dataset_type.upper(), schema, group)
        assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == [{"tagKey": "type", "tagValue": dataset_type}]
        created[dataset_type.upper()] = dataset
    # Only the action-interactions dataset carries the id PutActionInteractions needs.
    assert uuid.UUID(created["ACTION_INTERACTIONS"]["trackingId"])
    assert all("trackingId" not in d for t, d in created.items() if t != "ACTION_INTERACTIONS")
    listed = personalize.list_datasets(datasetGroupArn=group)["datasets"]
    assert sorted(d["datasetType"] for d in listed) == sorted(created)
    assert set(listed[0]) >= {"name", "datasetArn", "datasetType", "status", "creationDateTime", "lastUpdatedDateTime"}


def test_domain_group_takes_domain_schemas(personalize: Any) -> None:
    group, _ = active_group(personalize, domain="VIDEO_ON_DEMAND")
    text = avro("Interactions", ("USER_ID", "string"), ("ITEM_ID", "string"), ("TIMESTAMP", "long"), ("EVENT_TYPE", "string"))
    arn = active_dataset(personalize, group, "Interactions", new_schema(personalize, text, "VIDEO_ON_DEMAND"))
    assert personalize.describe_dataset(datasetArn=arn)["dataset"]["datasetType"] == "INTERACTIONS"


def test_list_pages_and_parent_filter(personalize: Any) -> None:
    group, _ = active_group(personalize)
    mine = {active_dataset(personalize, group, t) for t in ("Interactions", "Items", "Users")}
    seen: list[str] = []
    kwargs: dict[str, Any] = {"datasetGroupArn": group, "maxResults": 1}
    while True:
        page = personalize.list_datasets(**kwargs)
        assert len(page["datasets"]) <= 1
        seen += [d["datasetArn"] for d in page["datasets"]]
        if "nextToken" not in page:
            break
        kwargs["nextToken"] = page["nextToken"]
    assert sorted(seen) == sorted(mine)
    everything = [d["datasetArn"] for d in personalize.list_datasets()["datasets"]]
    assert mine <= set(everything)


def test_list_key_is_present_when_empty(personalize: Any) -> None:
    group, _ = active_group(personalize)
    assert personalize.list_datasets(datasetGroupArn=group)["datasets"] == []


def test_list_rejects_a_garbage_token(personalize: Any) -> None:
    code, _ = error_of(personalize.list_datasets, nextToken="!!!")
    assert code == "InvalidNextTokenException"


# ---- create errors -----------------------------------------------------------------------------------------


def test_unknown_dataset_type_is_invalid(personalize: Any) -> None:
    group, _ = active_group(personalize)
    code, message = error_of(personalize.create_dataset, name=unique("d"), schemaArn=new_schema(personalize, SCHEMAS["ITEMS"]),
                             datasetGroupArn=group, datasetType="Clicks")
    assert code == "InvalidInputException" and "Invalid datasetType 'Clicks'" in message


def test_unknown_group_or_schema_is_not_found(personalize: Any) -> None:
    group, _ = active_group(personalize)
    schema = new_schema(personalize, SCHEMAS["ITEMS"])
    missing_group = f"{ACCOUNT_PREFIX}:dataset-group/{unique('nope')}"
    code, message = error_of(personalize.create_dataset, name=unique("d"), schemaArn=schema,
                             datasetGroupArn=missing_group, datasetType="Items")
    assert code == "ResourceNotFoundException" and f"Could not find dataset group with ARN {missing_group}" in message
    missing_schema = f"{ACCOUNT_PREFIX}:schema/{unique('nope')}"
    code, message = error_of(personalize.create_dataset, name=unique("d"), schemaArn=missing_schema,
                             datasetGroupArn=group, datasetType="Items")
    assert code == "ResourceNotFoundException" and f"Could not find schema with ARN {missing_schema}" in message


def test_second_dataset_of_a_type_already_exists(personalize: Any) -> None:
    group, _ = active_group(personalize)
    arn = active_dataset(personalize, group, "Items")
    code, message = error_of(personalize.create_dataset, name=unique("d"), schemaArn=new_schema(personalize, SCHEMAS["ITEMS"]),
                             datasetGroupArn=group, datasetType="ITEMS")
    assert code == "ResourceAlreadyExistsException" and f"already has a Items dataset: {arn}" in message


def test_schema_record_must_match_the_type(personalize: Any) -> None:
    group, _ = active_group(personalize)
    schema = new_schema(personalize, SCHEMAS["USERS"])
    code, message = error_of(personalize.create_dataset, name=unique("d"), schemaArn=schema, datasetGroupArn=group,
                             datasetType="Items")
    assert code == "InvalidInputException"
    assert f"Schema {schema} describes Users data (record name 'Users') but the datasetType is Items" in message


def test_schema_domain_must_match_the_group(personalize: Any) -> None:
    custom, _ = active_group(personalize)
    domain_group, _ = active_group(personalize, domain="ECOMMERCE")
    text = avro("Users", ("USER_ID", "string"), {"name": "MEMBERSHIP_STATUS", "type": "string", "categorical": True})
    shop = new_schema(personalize, text, "ECOMMERCE")
    code, message = error_of(personalize.create_dataset, name=unique("d"), schemaArn=shop, datasetGroupArn=custom,
                             datasetType="Users")
    assert code == "InvalidInputException"
    assert f"has domain ECOMMERCE but dataset group {custom} has domain none (custom)" in message
    plain = new_schema(personalize, text)
    code, message = error_of(personalize.create_dataset, name=unique("d"), schemaArn=plain, datasetGroupArn=domain_group,
                             datasetType="Users")
    assert code == "InvalidInputException" and "has domain none (custom) but dataset group" in message


@pytest.mark.parametrize("dataset_type", ["Actions", "Action_Interactions"])
def test_action_datasets_are_not_allowed_in_domain_groups(personalize: Any, dataset_type: str) -> None:
    group, _ = active_group(personalize, domain="VIDEO_ON_DEMAND")
    schema = new_schema(personalize, SCHEMAS[dataset_type.upper()])
    code, message = error_of(personalize.create_dataset, name=unique("d"), schemaArn=schema, datasetGroupArn=group,
                             datasetType=dataset_type)
    assert code == "InvalidInputException"
    assert f"{dataset_type} datasets cannot be created in domain dataset group {group}" in message


def test_too_many_tags_on_create(personalize: Any) -> None:
    group, _ = active_group(personalize)
    tags = [{"tagKey": f"k{i}", "tagValue": "v"} for i in range(51)]
    code, _ = error_of(personalize.create_dataset, name=unique("d"), schemaArn=new_schema(personalize, SCHEMAS["ITEMS"]),
                       datasetGroupArn=group, datasetType="Items", tags=tags)
    assert code == "TooManyTagsException"


def test_describe_unknown_is_not_found(personalize: Any) -> None:
    arn = f"{ACCOUNT_PREFIX}:dataset/{unique('nope')}/ITEMS"
    code, message = error_of(personalize.describe_dataset, datasetArn=arn)
    assert code == "ResourceNotFoundException" and f"Could not find dataset with ARN {arn}" in message


# ---- delete ------------------------------------------------------------------------------------------------


def test_delete_removes_record_and_files(personalize: Any, server: LiveServer) -> None:
    group, _ = active_group(personalize)
    arn = active_dataset(personalize, group, "Interactions")
    files = server.data_dir / DataStore(server.data_dir).dataset_key(arn)
    files.mkdir(parents=True, exist_ok=True)
    (files / "part-0.parquet").write_bytes(b"rows")
    personalize.delete_dataset(datasetArn=arn)
    wait_gone(lambda: personalize.describe_dataset(datasetArn=arn))
    assert not files.exists()
    assert personalize.list_datasets(datasetGroupArn=group)["datasets"] == []
    # The type is free again.
    assert active_dataset(personalize, group, "Interactions") == arn


def test_delete_unknown_is_not_found(personalize: Any) -> None:
    code, _ = error_of(personalize.delete_dataset, datasetArn=f"{ACCOUNT_PREFIX}:dataset/{unique('x')}/USERS")
    assert code == "ResourceNotFoundException"


# ---- update ------------------------------------------------------------------------------------------------


def test_update_items_schema_with_a_nullable_field(personalize: Any) -> None:
    group, _ = active_group(personalize)
    arn = active_dataset(personalize, group, "Items")
    wider = new_schema(personalize, avro("Items", ("ITEM_ID", "string"), GENRES, ("PRICE", ["null", "float"])))
    assert personalize.update_dataset(datasetArn=arn, schemaArn=wider)["datasetArn"] == arn

    def latest() -> dict[str, Any]:
        return dict(personalize.describe_dataset(datasetArn=arn)["dataset"]["latestDatasetUpdate"])

    update = wait_for(latest)
    assert update["status"] == "ACTIVE" and update["schemaArn"] == wider
    assert update["lastUpdatedDateTime"] >= update["creationDateTime"]
    dataset = personalize.describe_dataset(datasetArn=arn)["dataset"]
    assert dataset["schemaArn"] == wider and dataset["status"] == "ACTIVE"


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ((("ITEM_ID", "string"), ("N", ["null", "int"])), "field 'GENRES' of the current schema is missing"),
        ((("ITEM_ID", "string"), GENRES, ("PRICE", "float")), "added field 'PRICE' must be nullable"),
        ((("ITEM_ID", "string"), {**GENRES, "categorical": False}, ("N", "int")), "field 'GENRES' changed"),
    ],
)
def test_update_must_keep_old_fields_and_add_nullable_ones(personalize: Any, fields: tuple[Any, ...], fragment: str) -> None:
    group, _ = active_group(personalize)
    arn = active_dataset(personalize, group, "Items")
    code, message = error_of(personalize.update_dataset, datasetArn=arn, schemaArn=new_schema(personalize, avro("Items", *fields)))
    assert code == "InvalidInputException" and fragment in message


def test_update_is_for_items_and_users_only(personalize: Any) -> None:
    group, _ = active_group(personalize)
    arn = active_dataset(personalize, group, "Interactions")
    wider = avro("Interactions", ("USER_ID", "string"), ("ITEM_ID", "string"), ("TIMESTAMP", "long"), ("D", ["null", "int"]))
    code, message = error_of(personalize.update_dataset, datasetArn=arn, schemaArn=new_schema(personalize, wider))
    assert code == "InvalidInputException"
    assert "is a Interactions dataset; only Items and Users datasets can be updated" in message


def test_update_errors(personalize: Any) -> None:
    group, _ = active_group(personalize)
    arn = active_dataset(personalize, group, "Users")
    current = personalize.describe_dataset(datasetArn=arn)["dataset"]["schemaArn"]
    code, message = error_of(personalize.update_dataset, datasetArn=arn, schemaArn=current)
    assert code == "InvalidInputException" and "already uses schema" in message
    code, message = error_of(personalize.update_dataset, datasetArn=arn, schemaArn=new_schema(personalize, SCHEMAS["ITEMS"]))
    assert code == "InvalidInputException" and "describes Items data" in message
    code, _ = error_of(personalize.update_dataset, datasetArn=arn, schemaArn=f"{ACCOUNT_PREFIX}:schema/{unique('nope')}")
    assert code == "ResourceNotFoundException"
    code, _ = error_of(personalize.update_dataset, datasetArn=f"{ACCOUNT_PREFIX}:dataset/{unique('x')}/USERS", schemaArn=current)
    assert code == "ResourceNotFoundException"


# ---- states the live worker would move past: the control functions in-process ------------------------------


def _local_dataset(local: RequestContext, group_status: str = ACTIVE) -> dict[str, Any]:
    group = dataset_groups.create_dataset_group(local, {"name": "g"})["datasetGroupArn"]
    local.store.update(group, {"status": group_status})
    schema = schemas.create_schema(local, {"name": "s", "schema": SCHEMAS["ITEMS"]})["schemaArn"]
    return {"name": "d", "datasetGroupArn": group, "schemaArn": schema, "datasetType": "Items"}


def test_a_group_created_a_moment_ago_takes_datasets(local: RequestContext) -> None:
    """Back-to-back client code: CreateDataset straight after CreateDatasetGroup (its activation is queued first)."""
    params = _local_dataset(local, "CREATE PENDING")
    assert datasets.create_dataset(local, params)["datasetArn"]


@pytest.mark.parametrize("status", ["CREATE FAILED", "DELETE PENDING"])
def test_group_must_be_active(local: RequestContext, status: str) -> None:
    params = _local_dataset(local, status)
    with pytest.raises(ResourceInUseException) as err:
        datasets.create_dataset(local, params)
    assert f"is {status}; it must be ACTIVE" in err.value.message


@pytest.mark.parametrize("job_status", ["CREATE PENDING", "CREATE IN_PROGRESS"])
def test_delete_is_refused_while_an_import_runs(local: RequestContext, job_status: str) -> None:
    arn = datasets.create_dataset(local, _local_dataset(local))["datasetArn"]
    local.store.update(arn, {"status": ACTIVE})
    job = f"{ACCOUNT_PREFIX}:dataset-import-job/j"
    local.store.create(new_record("dataset-import-job", job, "j", arn, {"status": job_status}, {}))
    with pytest.raises(ResourceInUseException) as err:
        datasets.delete_dataset(local, {"datasetArn": arn})
    assert f"while its import job {job} is {job_status}" in err.value.message
    local.store.update(job, {"status": ACTIVE})
    datasets.delete_dataset(local, {"datasetArn": arn})
    assert local.store.get(arn).status == "DELETE PENDING"  # type: ignore[union-attr]


def test_delete_and_update_need_an_active_dataset(local: RequestContext) -> None:
    arn = datasets.create_dataset(local, _local_dataset(local))["datasetArn"]  # stays CREATE PENDING: no worker
    with pytest.raises(ResourceInUseException) as err:
        datasets.delete_dataset(local, {"datasetArn": arn})
    assert "is CREATE PENDING; only an ACTIVE or CREATE FAILED dataset can be deleted" in err.value.message
    with pytest.raises(ResourceInUseException) as err:
        datasets.update_dataset(local, {"datasetArn": arn, "schemaArn": "x"})
    assert "must be ACTIVE to be updated" in err.value.message


def test_one_update_at_a_time(local: RequestContext) -> None:
    arn = datasets.create_dataset(local, _local_dataset(local))["datasetArn"]
    local.store.update(arn, {"status": ACTIVE})
    wider = avro("Items", ("ITEM_ID", "string"), GENRES, ("PRICE", ["null", "float"]))
    first = schemas.create_schema(local, {"name": "s2", "schema": wider})["schemaArn"]
    second = schemas.create_schema(local, {"name": "s3", "schema": wider})["schemaArn"]
    datasets.update_dataset(local, {"datasetArn": arn, "schemaArn": first})
    with pytest.raises(ResourceInUseException) as err:
        datasets.update_dataset(local, {"datasetArn": arn, "schemaArn": second})
    assert f"already has a schema update to {first} in progress" in err.value.message
    # The schema being switched to is in use too.
    with pytest.raises(ResourceInUseException):
        schemas.delete_schema(local, {"schemaArn": first})
