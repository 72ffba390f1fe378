"""CreateEventTracker / DescribeEventTracker / ListEventTrackers / DeleteEventTracker over boto3 (spec §2.9)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import unique, wait_for

ACCOUNT = "123456789012"


def error_of(call: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return dict(err.value.response["Error"])


def wait_gone(describe: Any, **kwargs: Any) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            describe(**kwargs)
        except ClientError as err:
            assert err.response["Error"]["Code"] == "ResourceNotFoundException"
            return
        time.sleep(0.05)
    raise AssertionError(f"{kwargs} still exists after 30 s")


@pytest.fixture(scope="module")
def group(personalize: Any) -> Iterator[str]:
    arn = personalize.create_dataset_group(name=unique("trk-dg"))["datasetGroupArn"]
    assert wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"])["status"] == "ACTIVE"
    yield arn
    personalize.delete_dataset_group(datasetGroupArn=arn)


def test_tracker_lifecycle(personalize: Any, group: str) -> None:
    name = unique("trk")
    created = personalize.create_event_tracker(name=name, datasetGroupArn=group, tags=[{"tagKey": "k", "tagValue": "v"}])
    arn = created["eventTrackerArn"]
    assert arn == f"arn:aws:personalize:us-east-1:{ACCOUNT}:event-tracker/{name}"
    assert str(uuid.UUID(created["trackingId"])) == created["trackingId"]

    tracker = wait_for(lambda: personalize.describe_event_tracker(eventTrackerArn=arn)["eventTracker"])
    assert tracker["status"] == "ACTIVE"
    assert tracker["name"] == name
    assert tracker["accountId"] == ACCOUNT
    assert tracker["trackingId"] == created["trackingId"]
    assert tracker["datasetGroupArn"] == group
    assert tracker["creationDateTime"] <= tracker["lastUpdatedDateTime"]
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == [{"tagKey": "k", "tagValue": "v"}]

    listed = personalize.list_event_trackers(datasetGroupArn=group)["eventTrackers"]
    assert [t["eventTrackerArn"] for t in listed] == [arn]
    assert set(listed[0]) == {"name", "eventTrackerArn", "status", "creationDateTime", "lastUpdatedDateTime"}
    assert arn in [t["eventTrackerArn"] for t in personalize.list_event_trackers()["eventTrackers"]]

    # One tracker per dataset group (spec §2.9), and the group cannot go while it exists (spec §3.3).
    err = error_of(personalize.create_event_tracker, name=unique("trk2"), datasetGroupArn=group)
    assert err["Code"] == "ResourceAlreadyExistsException"
    assert group in err["Message"]
    assert error_of(personalize.delete_dataset_group, datasetGroupArn=group)["Code"] == "ResourceInUseException"

    personalize.delete_event_tracker(eventTrackerArn=arn)
    wait_gone(personalize.describe_event_tracker, eventTrackerArn=arn)
    assert personalize.list_event_trackers(datasetGroupArn=group)["eventTrackers"] == []
    # With the first one gone the group can have a tracker again.
    again = personalize.create_event_tracker(name=unique("trk3"), datasetGroupArn=group)["eventTrackerArn"]
    wait_for(lambda: personalize.describe_event_tracker(eventTrackerArn=again)["eventTracker"])
    personalize.delete_event_tracker(eventTrackerArn=again)
    wait_gone(personalize.describe_event_tracker, eventTrackerArn=again)


def test_second_delete_while_deleting_is_in_use(personalize: Any, group: str) -> None:
    arn = personalize.create_event_tracker(name=unique("trk-del"), datasetGroupArn=group)["eventTrackerArn"]
    wait_for(lambda: personalize.describe_event_tracker(eventTrackerArn=arn)["eventTracker"])
    personalize.delete_event_tracker(eventTrackerArn=arn)
    try:
        err = error_of(personalize.delete_event_tracker, eventTrackerArn=arn)
        # Either still deleting, or already gone: never a second delete job.
        assert err["Code"] in ("ResourceInUseException", "ResourceNotFoundException")
        if err["Code"] == "ResourceInUseException":
            assert "being deleted" in err["Message"]
    finally:
        wait_gone(personalize.describe_event_tracker, eventTrackerArn=arn)


def test_unknown_resources_are_not_found(personalize: Any) -> None:
    missing_group = f"arn:aws:personalize:us-east-1:{ACCOUNT}:dataset-group/{unique('nogroup')}"
    err = error_of(personalize.create_event_tracker, name=unique("trk"), datasetGroupArn=missing_group)
    assert err["Code"] == "ResourceNotFoundException"
    assert missing_group in err["Message"]
    missing = f"arn:aws:personalize:us-east-1:{ACCOUNT}:event-tracker/{unique('nope')}"
    for call in (personalize.describe_event_tracker, personalize.delete_event_tracker):
        err = error_of(call, eventTrackerArn=missing)
        assert err["Code"] == "ResourceNotFoundException"
        assert missing in err["Message"]


def test_bad_name_and_token_are_invalid(personalize: Any, group: str) -> None:
    err = error_of(personalize.create_event_tracker, name="bad name", datasetGroupArn=group)
    assert err["Code"] == "InvalidInputException"
    assert "name" in err["Message"]
    err = error_of(personalize.list_event_trackers, nextToken="garbage")
    assert err["Code"] == "InvalidNextTokenException"


def test_list_pages_with_next_token(personalize: Any) -> None:
    groups = [personalize.create_dataset_group(name=unique("trk-pg"))["datasetGroupArn"] for _ in range(3)]
    for arn in groups:
        wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"])
    trackers = [personalize.create_event_tracker(name=unique("trk-p"), datasetGroupArn=g)["eventTrackerArn"] for g in groups]
    for arn in trackers:
        wait_for(lambda: personalize.describe_event_tracker(eventTrackerArn=arn)["eventTracker"])
    try:
        seen: list[str] = []
        page = personalize.list_event_trackers(maxResults=1)
        while True:
            assert len(page["eventTrackers"]) <= 1
            seen += [t["eventTrackerArn"] for t in page["eventTrackers"]]
            if "nextToken" not in page:
                break
            page = personalize.list_event_trackers(maxResults=1, nextToken=page["nextToken"])
        assert set(trackers) <= set(seen)
        assert len(seen) == len(set(seen))
    finally:
        for arn in trackers:
            personalize.delete_event_tracker(eventTrackerArn=arn)
        for arn in trackers:
            wait_gone(personalize.describe_event_tracker, eventTrackerArn=arn)
        for arn in groups:
            personalize.delete_dataset_group(datasetGroupArn=arn)
