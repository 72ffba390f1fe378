"""CreateDatasetGroup / DescribeDatasetGroup / ListDatasetGroups / DeleteDatasetGroup through boto3 (spec §2.1)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from _postgres import store_url
from conftest import LiveServer, unique, wait_for

from openpersonalize.errors import LimitExceededException, ResourceInUseException
from openpersonalize.config import Settings
from openpersonalize.control import dataset_groups
from openpersonalize.control.common import ACTIVE, new_record
from openpersonalize.services import Services
from openpersonalize.control.context import RequestContext
from openpersonalize.data.metadata import Store
from openpersonalize.data.store import DataStore

ACCOUNT_PREFIX = "arn:aws:personalize:us-east-1:123456789012"
INTERACTIONS = json.dumps({
    "type": "record", "name": "Interactions",
    "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
               {"name": "TIMESTAMP", "type": "long"}],
})


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def active_group(personalize: Any, **kwargs: Any) -> str:
    arn = personalize.create_dataset_group(name=unique("dg"), **kwargs)["datasetGroupArn"]
    group = wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"])
    assert group["status"] == "ACTIVE"
    return str(arn)


def wait_gone(describe: Callable[[], Any], timeout: float = 30) -> str:
    """Poll until Describe answers ResourceNotFoundException; return that message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            describe()
        except ClientError as err:
            assert err.response["Error"]["Code"] == "ResourceNotFoundException"
            return str(err.response["Error"]["Message"])
        time.sleep(0.05)
    raise AssertionError("the resource was not deleted in time")


# ---- create / describe -------------------------------------------------------------------------------------


def test_create_custom_group_becomes_active(personalize: Any) -> None:
    name = unique("dg")
    out = personalize.create_dataset_group(name=name)
    assert out["datasetGroupArn"] == f"{ACCOUNT_PREFIX}:dataset-group/{name}"
    assert "domain" not in out
    first = personalize.describe_dataset_group(datasetGroupArn=out["datasetGroupArn"])["datasetGroup"]
    assert first["status"] in ("CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE")
    group = wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=out["datasetGroupArn"])["datasetGroup"])
    assert group["status"] == "ACTIVE"
    assert group["name"] == name and "domain" not in group and "roleArn" not in group
    assert group["lastUpdatedDateTime"] >= group["creationDateTime"]


@pytest.mark.parametrize("domain", ["ECOMMERCE", "VIDEO_ON_DEMAND"])
def test_create_domain_group(personalize: Any, domain: str) -> None:
    out = personalize.create_dataset_group(name=unique("dg"), domain=domain)
    assert out["domain"] == domain
    group = wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=out["datasetGroupArn"])["datasetGroup"])
    assert group["domain"] == domain and group["status"] == "ACTIVE"


def test_role_and_kms_key_are_stored(personalize: Any) -> None:
    role, key = "arn:aws:iam::123456789012:role/personalize", "arn:aws:kms:us-east-1:123456789012:key/abc"
    arn = personalize.create_dataset_group(name=unique("dg"), roleArn=role, kmsKeyArn=key)["datasetGroupArn"]
    group = personalize.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]
    assert (group["roleArn"], group["kmsKeyArn"]) == (role, key)


def test_role_without_kms_key_is_invalid(personalize: Any) -> None:
    code, message = error_of(
        personalize.create_dataset_group, name=unique("dg"), roleArn="arn:aws:iam::123456789012:role/personalize"
    )
    assert code == "InvalidInputException"
    assert "roleArn is only valid together with kmsKeyArn" in message


def test_bad_kms_key_pattern_is_invalid(personalize: Any) -> None:
    code, message = error_of(personalize.create_dataset_group, name=unique("dg"), kmsKeyArn="not-a-key")
    assert code == "InvalidInputException" and "kmsKeyArn" in message


def test_same_name_is_already_exists(personalize: Any) -> None:
    name = unique("dg")
    personalize.create_dataset_group(name=name)
    code, message = error_of(personalize.create_dataset_group, name=name)
    assert code == "ResourceAlreadyExistsException"
    assert f"dataset group with the name '{name}' already exists" in message


def test_tags_on_create_are_stored(personalize: Any) -> None:
    arn = personalize.create_dataset_group(name=unique("dg"), tags=[{"tagKey": "team", "tagValue": "recs"}])["datasetGroupArn"]
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == [{"tagKey": "team", "tagValue": "recs"}]


def test_too_many_tags_on_create(personalize: Any) -> None:
    tags = [{"tagKey": f"k{i}", "tagValue": "v"} for i in range(51)]
    code, message = error_of(personalize.create_dataset_group, name=unique("dg"), tags=tags)
    assert code == "TooManyTagsException" and "at most 50 tags; 51" in message


def test_describe_unknown_is_not_found(personalize: Any) -> None:
    arn = f"{ACCOUNT_PREFIX}:dataset-group/{unique('nope')}"
    code, message = error_of(personalize.describe_dataset_group, datasetGroupArn=arn)
    assert code == "ResourceNotFoundException" and arn in message


# ---- list --------------------------------------------------------------------------------------------------


def test_list_walks_every_page_with_max_results_1(personalize: Any) -> None:
    mine = {personalize.create_dataset_group(name=unique("dg"))["datasetGroupArn"] for _ in range(2)}
    seen: list[str] = []
    kwargs: dict[str, Any] = {"maxResults": 1}
    while True:
        page = personalize.list_dataset_groups(**kwargs)
        assert len(page["datasetGroups"]) <= 1
        seen += [g["datasetGroupArn"] for g in page["datasetGroups"]]
        if "nextToken" not in page:
            break
        kwargs["nextToken"] = page["nextToken"]
    assert mine <= set(seen) and len(seen) == len(set(seen))
    summary = next(g for g in personalize.list_dataset_groups()["datasetGroups"] if g["datasetGroupArn"] in mine)
    assert set(summary) >= {"name", "datasetGroupArn", "status", "creationDateTime", "lastUpdatedDateTime"}


def test_list_rejects_a_garbage_token(personalize: Any) -> None:
    code, message = error_of(personalize.list_dataset_groups, nextToken="garbage")
    assert code == "InvalidNextTokenException" and "garbage" in message


def test_max_results_over_100_is_invalid(personalize: Any) -> None:
    code, message = error_of(personalize.list_dataset_groups, maxResults=101)
    assert code == "InvalidInputException" and "maxResults" in message


# ---- delete ------------------------------------------------------------------------------------------------


def test_delete_goes_through_delete_pending(personalize: Any) -> None:
    arn = active_group(personalize)
    personalize.delete_dataset_group(datasetGroupArn=arn)
    try:
        status = personalize.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]["status"]
        assert status in ("DELETE PENDING", "DELETE IN_PROGRESS")
    except ClientError as err:  # the worker may already have finished
        assert err.response["Error"]["Code"] == "ResourceNotFoundException"
    assert arn in wait_gone(lambda: personalize.describe_dataset_group(datasetGroupArn=arn))
    assert arn not in [g["datasetGroupArn"] for g in personalize.list_dataset_groups()["datasetGroups"]]


def test_delete_is_refused_while_a_dataset_exists(personalize: Any) -> None:
    arn = active_group(personalize)
    schema = personalize.create_schema(name=unique("s"), schema=INTERACTIONS)["schemaArn"]
    dataset = personalize.create_dataset(name=unique("d"), schemaArn=schema, datasetGroupArn=arn, datasetType="Interactions")
    code, message = error_of(personalize.delete_dataset_group, datasetGroupArn=arn)
    assert code == "ResourceInUseException"
    assert "still has 1 datasets" in message and "Delete them first" in message
    wait_for(lambda: personalize.describe_dataset(datasetArn=dataset["datasetArn"])["dataset"])
    personalize.delete_dataset(datasetArn=dataset["datasetArn"])
    wait_gone(lambda: personalize.describe_dataset(datasetArn=dataset["datasetArn"]))
    personalize.delete_dataset_group(datasetGroupArn=arn)
    wait_gone(lambda: personalize.describe_dataset_group(datasetGroupArn=arn))


def test_delete_unknown_is_not_found(personalize: Any) -> None:
    code, _ = error_of(personalize.delete_dataset_group, datasetGroupArn=f"{ACCOUNT_PREFIX}:dataset-group/{unique('x')}")
    assert code == "ResourceNotFoundException"


# ---- rules that need a state the live worker would move past: the control functions in-process -------------


@pytest.mark.parametrize("kind", sorted(dataset_groups.DEPENDANTS))
def test_every_dependant_kind_blocks_delete(local: RequestContext, kind: str) -> None:
    arn = dataset_groups.create_dataset_group(local, {"name": "g"})["datasetGroupArn"]
    local.store.update(arn, {"status": ACTIVE})
    local.store.create(new_record(kind, f"{ACCOUNT_PREFIX}:{kind}/child", "child", arn, {"status": ACTIVE}, {}))
    with pytest.raises(ResourceInUseException) as err:
        dataset_groups.delete_dataset_group(local, {"datasetGroupArn": arn})
    assert f"still has 1 {dataset_groups.DEPENDANTS[kind]}" in err.value.message


@pytest.mark.parametrize("status", ["CREATE PENDING", "DELETE PENDING"])
def test_delete_needs_an_active_or_failed_group(local: RequestContext, status: str) -> None:
    arn = dataset_groups.create_dataset_group(local, {"name": "g"})["datasetGroupArn"]
    local.store.update(arn, {"status": status})
    with pytest.raises(ResourceInUseException) as err:
        dataset_groups.delete_dataset_group(local, {"datasetGroupArn": arn})
    assert f"is {status}; only an ACTIVE or CREATE FAILED group can be deleted" in err.value.message


# ---- quota: a server of its own, so that the count is known --------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    live = LiveServer(tmp_path_factory.mktemp("dg-quota"), env={"OPENPERSONALIZE_QUOTA_ACTIVE_DATASET_GROUPS": "2"})
    live.start()
    yield live.client("personalize")
    live.stop()


def test_list_key_is_present_when_empty(small: Any) -> None:
    assert small.list_dataset_groups()["datasetGroups"] == []


def test_quota_of_active_dataset_groups(small: Any) -> None:
    first = active_group(small)
    active_group(small)
    code, message = error_of(small.create_dataset_group, name=unique("dg"))
    assert code == "LimitExceededException"
    assert "already has 2 active dataset groups" in message
    small.delete_dataset_group(datasetGroupArn=first)
    wait_gone(lambda: small.describe_dataset_group(datasetGroupArn=first))
    assert small.create_dataset_group(name=unique("dg"))["datasetGroupArn"]


def test_concurrent_creates_cannot_overshoot_the_quota(tmp_path: Path) -> None:
    services = Services(
        settings=Settings(data_dir=tmp_path, quota_overrides={"active_dataset_groups": 3}),
        store=Store(store_url(tmp_path)), data=DataStore(tmp_path),
    )
    ctx = RequestContext(services=services, region="us-east-1", account_id="123456789012", request_id="t")

    def create(index: int) -> str:
        try:
            return str(dataset_groups.create_dataset_group(ctx, {"name": f"g{index}"})["datasetGroupArn"])
        except LimitExceededException:
            return "limit"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(create, range(8)))
    assert outcomes.count("limit") == 5
    assert services.store.count("dataset-group") == 3
