"""TagResource / UntagResource / ListTagsForResource through boto3 (spec §2.13): any resource, 50 tags at most."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import unique

ACCOUNT_PREFIX = "arn:aws:personalize:us-east-1:123456789012"
USERS = json.dumps({"type": "record", "name": "Users",
                    "fields": [{"name": "USER_ID", "type": "string"}, {"name": "AGE", "type": "int"}]})


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def tags(**pairs: str) -> list[dict[str, str]]:
    return [{"tagKey": k, "tagValue": v} for k, v in pairs.items()]


def listed(personalize: Any, arn: str) -> dict[str, str]:
    return {t["tagKey"]: t["tagValue"] for t in personalize.list_tags_for_resource(resourceArn=arn)["tags"]}


def test_tag_overwrite_and_untag(personalize: Any) -> None:
    arn = personalize.create_dataset_group(name=unique("dg"), tags=tags(team="recs"))["datasetGroupArn"]
    personalize.tag_resource(resourceArn=arn, tags=tags(env="test", team="search"))
    assert listed(personalize, arn) == {"team": "search", "env": "test"}
    personalize.untag_resource(resourceArn=arn, tagKeys=["team", "absent"])  # unknown keys are ignored
    assert listed(personalize, arn) == {"env": "test"}
    personalize.untag_resource(resourceArn=arn, tagKeys=["env"])
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == []


def test_any_resource_kind_is_taggable(personalize: Any) -> None:
    # Schemas take no tags at creation but are resources like any other.
    arn = personalize.create_schema(name=unique("s"), schema=USERS)["schemaArn"]
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == []
    personalize.tag_resource(resourceArn=arn, tags=tags(owner="me"))
    assert listed(personalize, arn) == {"owner": "me"}


@pytest.mark.parametrize(
    ("operation", "extra"),
    [
        ("tag_resource", {"tags": tags(a="b")}),
        ("untag_resource", {"tagKeys": ["a"]}),
        ("list_tags_for_resource", {}),
    ],
)
def test_unknown_arn_is_not_found(personalize: Any, operation: str, extra: dict[str, Any]) -> None:
    arn = f"{ACCOUNT_PREFIX}:dataset-group/{unique('nope')}"
    code, message = error_of(getattr(personalize, operation), resourceArn=arn, **extra)
    assert code == "ResourceNotFoundException" and f"Could not find a resource with ARN {arn}" in message


def test_more_than_50_tags_per_resource(personalize: Any) -> None:
    first = [{"tagKey": f"a{i}", "tagValue": "v"} for i in range(30)]
    arn = personalize.create_dataset_group(name=unique("dg"), tags=first)["datasetGroupArn"]
    more = [{"tagKey": f"b{i}", "tagValue": "v"} for i in range(21)]
    code, message = error_of(personalize.tag_resource, resourceArn=arn, tags=more)
    assert code == "TooManyTagsException" and "would have 51 tags; a resource can have at most 50" in message
    assert len(listed(personalize, arn)) == 30  # nothing was applied
    # Overwriting existing keys does not add to the count.
    personalize.tag_resource(resourceArn=arn, tags=first[:10] + more[:20])
    assert len(listed(personalize, arn)) == 50


def test_untag_more_than_50_keys(personalize: Any) -> None:
    arn = personalize.create_dataset_group(name=unique("dg"))["datasetGroupArn"]
    code, message = error_of(personalize.untag_resource, resourceArn=arn, tagKeys=[f"k{i}" for i in range(51)])
    assert code == "TooManyTagKeysException" and "given 51 tag keys" in message


def test_tag_key_pattern_is_checked_by_the_server(personalize: Any) -> None:
    arn = personalize.create_dataset_group(name=unique("dg"))["datasetGroupArn"]
    code, message = error_of(personalize.tag_resource, resourceArn=arn, tags=tags(**{"bad#key": "v"}))
    assert code == "InvalidInputException" and "tags.1.member.tagKey" in message
