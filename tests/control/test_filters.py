"""CreateFilter / DescribeFilter / ListFilters / DeleteFilter through boto3 (spec §2.8, §7)."""

from __future__ import annotations

import concurrent.futures
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import unique, wait_for
from test_datasets import active_dataset, active_group, error_of, new_schema, wait_gone

ITEMS = json.dumps({
    "type": "record", "name": "Items",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRES", "type": "string", "categorical": True},
        {"name": "PRICE", "type": "float"},
        {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True},
    ],
})
INTERACTIONS = json.dumps({
    "type": "record", "name": "Interactions",
    "fields": [{"name": n, "type": t} for n, t in
               (("USER_ID", "string"), ("ITEM_ID", "string"), ("EVENT_TYPE", "string"), ("TIMESTAMP", "long"))],
})


@pytest.fixture(scope="module")
def group(personalize: Any) -> str:
    arn, _ = active_group(personalize)
    active_dataset(personalize, arn, "Interactions", new_schema(personalize, INTERACTIONS))
    active_dataset(personalize, arn, "Items", new_schema(personalize, ITEMS))
    return arn


def test_create_describe_list_delete(personalize: Any, group: str) -> None:
    expression = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch") | INCLUDE ItemID WHERE Items.GENRES IN ($G)'
    name = unique("f")
    arn = personalize.create_filter(name=name, datasetGroupArn=group, filterExpression=expression,
                                    tags=[{"tagKey": "team", "tagValue": "recs"}])["filterArn"]
    assert arn.endswith(f":filter/{name}")
    described = wait_for(lambda: personalize.describe_filter(filterArn=arn)["filter"])
    assert described["status"] == "ACTIVE"
    assert described["filterExpression"] == expression and described["datasetGroupArn"] == group
    assert "_fields" not in described
    listed = personalize.list_filters(datasetGroupArn=group)["Filters"]
    assert [f["filterArn"] for f in listed] == [arn]
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == [{"tagKey": "team", "tagValue": "recs"}]
    personalize.delete_filter(filterArn=arn)
    wait_gone(lambda: personalize.describe_filter(filterArn=arn))
    assert personalize.list_filters(datasetGroupArn=group)["Filters"] == []


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("EXCLUDE ItemID WHERE", "ends too early"),
        ('EXCLUDE ItemID WHERE Items.COLOUR IN ("red")', "Items.COLOUR is not a column"),
        ('EXCLUDE ItemID WHERE Items.DESCRIPTION IN ("x")', "textual columns cannot be used"),
        ('INCLUDE UserID WHERE Users.AGE > 3', "no Users dataset"),
        ('EXCLUDE ItemID WHERE Items.GENRES IN ("a") AND Interactions.EVENT_TYPE IN ("b")', "cannot share one expression"),
    ],
)
def test_bad_expressions_fail_the_request(personalize: Any, group: str, expression: str, fragment: str) -> None:
    code, message = error_of(personalize.create_filter, name=unique("bad"), datasetGroupArn=group, filterExpression=expression)
    assert code == "InvalidInputException"
    assert fragment in message


def test_unknown_group_and_filter(personalize: Any) -> None:
    missing = "arn:aws:personalize:us-east-1:123456789012:dataset-group/nope"
    code, _ = error_of(personalize.create_filter, name=unique("f"), datasetGroupArn=missing,
                       filterExpression='EXCLUDE ItemID WHERE Items.GENRES IN ("a")')
    assert code == "ResourceNotFoundException"
    code, _ = error_of(personalize.describe_filter, filterArn="arn:aws:personalize:us-east-1:123456789012:filter/nope")
    assert code == "ResourceNotFoundException"


def test_duplicate_name(personalize: Any, group: str) -> None:
    name = unique("dup")
    personalize.create_filter(name=name, datasetGroupArn=group, filterExpression='EXCLUDE ItemID WHERE Items.PRICE > 3')
    code, _ = error_of(personalize.create_filter, name=name, datasetGroupArn=group,
                       filterExpression='EXCLUDE ItemID WHERE Items.PRICE > 3')
    assert code == "ResourceAlreadyExistsException"


def test_concurrent_deletes_of_a_filter_delete_it_once(personalize: Any, group: str) -> None:
    """Two DeleteFilter calls racing: one is accepted, the other is refused (the status changes once)."""
    arn = personalize.create_filter(name=unique("f"), datasetGroupArn=group,
                                    filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("x")')["filterArn"]
    wait_for(lambda: personalize.describe_filter(filterArn=arn)["filter"])

    def delete() -> str:
        try:
            personalize.delete_filter(filterArn=arn)
            return "ok"
        except ClientError as err:
            return str(err.response["Error"]["Code"])

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(lambda _: delete(), range(4)))
    assert outcomes.count("ok") == 1 and set(outcomes) == {"ok", "ResourceInUseException"}


def test_concurrent_creates_cannot_overshoot_the_filter_quota(personalize: Any) -> None:
    """Creates racing for the last places of the 30 filters a group may hold: exactly 30 get one."""
    arn, _ = active_group(personalize)
    active_dataset(personalize, arn, "Interactions", new_schema(personalize, INTERACTIONS))

    def create(index: int) -> str:
        try:
            personalize.create_filter(name=unique(f"race{index}"), datasetGroupArn=arn,
                                      filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("x")')
            return "ok"
        except ClientError as err:
            return str(err.response["Error"]["Code"])

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(create, range(40)))
    assert outcomes.count("ok") == 30 and outcomes.count("LimitExceededException") == 10
    assert len(personalize.list_filters(datasetGroupArn=arn, maxResults=100)["Filters"]) == 30
