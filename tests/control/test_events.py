"""PutEvents, PutItems, PutUsers, PutActions, PutActionInteractions over boto3 (spec §4.5, §10).

What a request stored is read back from the server's event log on disk, as a training job would read it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import LiveServer, unique, wait_for

from openpersonalize.data.eventlog import EventLog
from openpersonalize.data.schema import Schema, parse_schema


def avro(name: str, fields: list[dict[str, Any]]) -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "com.amazonaws.personalize.schema", "fields": fields, "version": "1.0"})


OPT_STR: list[str] = ["null", "string"]
SCHEMAS = {
    "Interactions": avro("Interactions", [
        {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"}, {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]}, {"name": "IMPRESSION", "type": OPT_STR},
        {"name": "RECOMMENDATION_ID", "type": OPT_STR}, {"name": "EVENT_ATTRIBUTION_SOURCE", "type": OPT_STR},
        {"name": "DEVICE", "type": OPT_STR, "categorical": True}, {"name": "DWELL_SECONDS", "type": ["null", "long"]},
    ]),
    "Items": avro("Items", [
        {"name": "ITEM_ID", "type": "string"}, {"name": "GENRES", "type": "string", "categorical": True},
        {"name": "PRICE", "type": ["null", "float"]}, {"name": "NUMBER_OF_RATINGS", "type": ["null", "int"]},
        {"name": "CREATION_TIMESTAMP", "type": ["null", "long"]},
    ]),
    "Users": avro("Users", [
        {"name": "USER_ID", "type": "string"}, {"name": "MEMBERSHIP", "type": "string", "categorical": True},
        {"name": "AGE", "type": ["null", "int"]},
    ]),
    "Actions": avro("Actions", [
        {"name": "ACTION_ID", "type": "string"}, {"name": "VALUE", "type": ["null", "long"]},
        {"name": "CATEGORY", "type": OPT_STR, "categorical": True},
    ]),
    "Action_Interactions": avro("ActionInteractions", [
        {"name": "USER_ID", "type": "string"}, {"name": "ACTION_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"}, {"name": "TIMESTAMP", "type": "long"},
        {"name": "IMPRESSION", "type": OPT_STR}, {"name": "CHANNEL", "type": OPT_STR, "categorical": True},
    ]),
}


@dataclass
class Group:
    arn: str
    datasets: dict[str, str]  # "Interactions" … → dataset ARN
    schemas: dict[str, Schema]
    tracking_id: str
    action_tracking_id: str
    log: EventLog

    def rows(self, dataset_type: str) -> list[dict[str, Any]]:
        return self.log.rows(self.datasets[dataset_type])

    def frame(self, dataset_type: str) -> list[dict[str, Any]]:
        frame = self.log.read(self.datasets[dataset_type], self.schemas[dataset_type])
        return [] if frame is None else frame.to_dicts()


def make_group(personalize: Any, server: LiveServer, types: tuple[str, ...], tracker: bool) -> Group:
    arn = personalize.create_dataset_group(name=unique("ev-dg"))["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"])
    datasets = {}
    for kind in types:
        schema_arn = personalize.create_schema(name=unique(f"ev-{kind.lower()}"), schema=SCHEMAS[kind])["schemaArn"]
        datasets[kind] = personalize.create_dataset(
            name=unique("ev-ds"), schemaArn=schema_arn, datasetGroupArn=arn, datasetType=kind
        )["datasetArn"]
    described = {}
    for kind, dataset_arn in datasets.items():
        described[kind] = wait_for(lambda: personalize.describe_dataset(datasetArn=dataset_arn)["dataset"])
        assert described[kind]["status"] == "ACTIVE", described[kind]
    tracking_id = ""
    if tracker:
        tracker_arn = personalize.create_event_tracker(name=unique("ev-trk"), datasetGroupArn=arn)["eventTrackerArn"]
        tracking_id = wait_for(lambda: personalize.describe_event_tracker(eventTrackerArn=tracker_arn)["eventTracker"])["trackingId"]
    return Group(
        arn=arn,
        datasets=datasets,
        schemas={kind: parse_schema(SCHEMAS[kind]) for kind in types},
        tracking_id=tracking_id,
        action_tracking_id=described.get("Action_Interactions", {}).get("trackingId", ""),
        log=EventLog(server.data_dir / "eventlog"),
    )


@pytest.fixture(scope="module")
def group(personalize: Any, server: LiveServer) -> Iterator[Group]:
    yield make_group(personalize, server, tuple(SCHEMAS), tracker=True)


def error_of(call: Any, **kwargs: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    response = err.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def click(item: str, sent_at: Any = 1_700_000_000, **extra: Any) -> dict[str, Any]:
    return {"eventType": "click", "itemId": item, "sentAt": sent_at, **extra}


# ---- PutEvents -----------------------------------------------------------------------------------------------


def test_put_events_writes_one_row_per_event(events: Any, group: Group) -> None:
    user = unique("u")
    sent = dt.datetime(2024, 1, 1, 0, 0, 5, 750000, tzinfo=dt.timezone.utc)  # boto3 sends 1704067205.75
    events.put_events(
        trackingId=group.tracking_id, userId=user, sessionId="s-1",
        eventList=[
            click("i1", sent, eventId="e-1", eventValue=4.5, impression=["i1", "i2", "i3"], recommendationId="RID-1",
                  metricAttribution={"eventAttributionSource": "email"},
                  properties=json.dumps({"device": "mobile", "dwellSeconds": 30})),
            {"eventType": "watch", "sentAt": 1_704_067_300, "properties": json.dumps({"itemId": "i9"})},  # legacy itemId
        ],
    )
    rows = [r for r in group.frame("Interactions") if r["USER_ID"] == user]
    assert rows == [
        {"USER_ID": user, "ITEM_ID": "i1", "TIMESTAMP": 1_704_067_205, "EVENT_TYPE": "click", "EVENT_VALUE": 4.5,
         "IMPRESSION": "i1|i2|i3", "RECOMMENDATION_ID": "RID-1", "EVENT_ATTRIBUTION_SOURCE": "email",
         "DEVICE": "mobile", "DWELL_SECONDS": 30},
        {"USER_ID": user, "ITEM_ID": "i9", "TIMESTAMP": 1_704_067_300, "EVENT_TYPE": "watch", "EVENT_VALUE": None,
         "IMPRESSION": None, "RECOMMENDATION_ID": None, "EVENT_ATTRIBUTION_SOURCE": None,
         "DEVICE": None, "DWELL_SECONDS": None},
    ]
    raw = [r for r in group.rows("Interactions") if r["USER_ID"] == user]
    assert raw[0]["$eid"] == "e-1" and raw[1]["$eid"]  # generated when absent
    assert {r["$sid"] for r in raw} == {"s-1"}


def test_anonymous_events_use_the_session_id(events: Any, group: Group) -> None:
    session = unique("sess")
    events.put_events(trackingId=group.tracking_id, sessionId=session, eventList=[click("i1")])
    raw = [r for r in group.rows("Interactions") if r["$sid"] == session]
    assert len(raw) == 1
    assert raw[0]["USER_ID"] == session and raw[0]["$anon"] is True


def test_unknown_tracking_id_is_invalid_input(events: Any) -> None:
    status, code, message = error_of(
        events.put_events, trackingId="00000000-0000-0000-0000-000000000000", sessionId="s", eventList=[click("i")]
    )
    assert (status, code) == (400, "InvalidInputException")  # the only error PutEvents models
    assert "00000000-0000-0000-0000-000000000000" in message


@pytest.mark.parametrize(
    ("properties", "needle"),
    [
        ('{"userId": "u2"}', "'userId'"),
        ('{"TIMESTAMP": 5}', "'TIMESTAMP'"),
        ('{"recommendationId": "r"}', "'recommendationId'"),
        ('{"colour": "red"}', "'colour'"),
        ('{"dwellSeconds": "long"}', "'dwellSeconds'"),
        ('{"dwellSeconds": 1.5}', "DWELL_SECONDS"),
        ('{"device": 7}', "'device'"),
        ('["device"]', "JSON object"),
        ('{"device": ', "not valid JSON"),
    ],
)
def test_bad_properties_are_invalid_input_naming_the_key(events: Any, group: Group, properties: str, needle: str) -> None:
    status, code, message = error_of(
        events.put_events, trackingId=group.tracking_id, userId="u", sessionId="s",
        eventList=[click("i1", properties=properties)],
    )
    assert (status, code) == (400, "InvalidInputException")
    assert needle in message and "eventList[1].properties" in message


def test_a_bad_event_rejects_the_whole_request(events: Any, group: Group) -> None:
    user = unique("u")
    status, code, message = error_of(
        events.put_events, trackingId=group.tracking_id, userId=user, sessionId="s",
        eventList=[click("ok"), {"eventType": "click", "sentAt": 1}],  # the second has no item id
    )
    assert code == "InvalidInputException"
    assert "eventList[2]" in message and "ITEM_ID" in message and "itemId" in message
    assert not [r for r in group.rows("Interactions") if r["USER_ID"] == user]


def test_item_id_twice_and_oversized_event_are_refused(events: Any, group: Group) -> None:
    _, code, message = error_of(
        events.put_events, trackingId=group.tracking_id, sessionId="s",
        eventList=[click("i1", properties='{"itemId": "i2"}')],
    )
    assert code == "InvalidInputException" and "ITEM_ID twice" in message
    _, code, message = error_of(
        events.put_events, trackingId=group.tracking_id, sessionId="s",
        eventList=[click("i1", impression=["x" * 200] * 25)],
    )
    assert code == "InvalidInputException" and "impression" in message


def test_group_without_interactions_dataset_refuses_events(personalize: Any, events: Any, server: LiveServer) -> None:
    bare = make_group(personalize, server, (), tracker=True)
    _, code, message = error_of(events.put_events, trackingId=bare.tracking_id, sessionId="s", eventList=[click("i")])
    assert code == "InvalidInputException"
    assert "no Interactions dataset" in message and bare.arn in message


# ---- PutItems / PutUsers / PutActions ------------------------------------------------------------------------


def test_put_items_upserts_with_mapped_properties(events: Any, group: Group) -> None:
    item = unique("item")
    arn = group.datasets["Items"]
    events.put_items(datasetArn=arn, items=[
        {"itemId": item, "properties": json.dumps({"genres": "Comedy|Drama", "price": 9, "numberOfRatings": "12"})},
    ])
    events.put_items(datasetArn=arn, items=[{"itemId": item, "properties": '{"genres": "Horror", "creationTimestamp": 1700000000}'}])
    rows = [r for r in group.frame("Items") if r["ITEM_ID"] == item]
    assert rows == [
        {"ITEM_ID": item, "GENRES": "Comedy|Drama", "PRICE": 9.0, "NUMBER_OF_RATINGS": 12, "CREATION_TIMESTAMP": None},
        {"ITEM_ID": item, "GENRES": "Horror", "PRICE": None, "NUMBER_OF_RATINGS": None, "CREATION_TIMESTAMP": 1_700_000_000},
    ]  # in append order: the newest record of an id is the last one


@pytest.mark.parametrize(
    ("item", "needle"),
    [
        ({"itemId": "x", "properties": '{"price": 1}'}, "GENRES"),  # required, not nullable
        ({"itemId": "x", "properties": '{"genres": "a", "numberOfRatings": "many"}'}, "'numberOfRatings'"),
        ({"itemId": "x", "properties": '{"genres": "a", "numberOfRatings": 3000000000}'}, "range of int"),
        ({"itemId": "x", "properties": '{"genres": "a", "itemId": "y"}'}, "'itemId'"),
        ({"itemId": "x", "properties": '{"genres": "' + "g" * 1001 + '"}'}, "at most 1000"),
    ],
)
def test_bad_items_are_invalid_input(events: Any, group: Group, item: dict[str, Any], needle: str) -> None:
    status, code, message = error_of(events.put_items, datasetArn=group.datasets["Items"], items=[item])
    assert (status, code) == (400, "InvalidInputException")
    assert needle in message and "items[1]" in message


def test_put_records_check_the_dataset(events: Any, group: Group) -> None:
    missing = group.datasets["Items"].replace("/ITEMS", "-gone/ITEMS")
    status, code, message = error_of(events.put_items, datasetArn=missing, items=[{"itemId": "x"}])
    assert (status, code) == (404, "ResourceNotFoundException") and missing in message
    status, code, message = error_of(events.put_users, datasetArn=group.datasets["Items"], users=[{"userId": "u"}])
    assert (status, code) == (400, "InvalidInputException")
    assert "ITEMS dataset" in message and "PutUsers needs a USERS dataset" in message


def test_put_users_and_actions(events: Any, group: Group) -> None:
    user, action = unique("user"), unique("action")
    events.put_users(datasetArn=group.datasets["Users"], users=[{"userId": user, "properties": '{"membership": "gold", "age": 41}'}])
    events.put_actions(datasetArn=group.datasets["Actions"], actions=[{"actionId": action, "properties": '{"value": 3}'}])
    assert [r for r in group.frame("Users") if r["USER_ID"] == user] == [{"USER_ID": user, "MEMBERSHIP": "gold", "AGE": 41}]
    assert [r for r in group.frame("Actions") if r["ACTION_ID"] == action] == [{"ACTION_ID": action, "VALUE": 3, "CATEGORY": None}]
    _, code, message = error_of(events.put_users, datasetArn=group.datasets["Users"], users=[{"userId": user, "properties": '{"age": true}'}])
    assert code == "InvalidInputException" and "'age'" in message


# ---- PutActionInteractions -----------------------------------------------------------------------------------


def test_put_action_interactions_normalises_event_types(events: Any, group: Group) -> None:
    user = unique("u")
    spellings = ["Taken", "Not Taken", "not_taken", "NOT-TAKEN", "viewed"]
    events.put_action_interactions(trackingId=group.action_tracking_id, actionInteractions=[
        {"actionId": "a1", "userId": user, "sessionId": "s", "timestamp": 1_700_000_000 + n, "eventType": spelling,
         "properties": '{"channel": "web"}', "impression": ["a1", "a2"]}
        for n, spelling in enumerate(spellings)
    ])
    rows = [r for r in group.frame("Action_Interactions") if r["USER_ID"] == user]
    assert [r["EVENT_TYPE"] for r in rows] == ["TAKEN", "NOT_TAKEN", "NOT_TAKEN", "NOT_TAKEN", "VIEWED"]
    assert rows[0] == {"USER_ID": user, "ACTION_ID": "a1", "EVENT_TYPE": "TAKEN", "TIMESTAMP": 1_700_000_000,
                       "IMPRESSION": "a1|a2", "CHANNEL": "web"}


def test_put_action_interactions_errors(events: Any, group: Group) -> None:
    entry = {"actionId": "a1", "sessionId": "s", "timestamp": 1, "eventType": "clicked"}
    _, code, message = error_of(events.put_action_interactions, trackingId=group.action_tracking_id, actionInteractions=[entry])
    assert code == "InvalidInputException" and "'clicked'" in message and "Not Taken" in message
    status, code, _ = error_of(
        events.put_action_interactions, trackingId="no-such-tracker", actionInteractions=[{**entry, "eventType": "Taken"}]
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    # The item-interaction tracker id is not an action-interaction one, and vice versa.
    status, code, _ = error_of(
        events.put_action_interactions, trackingId=group.tracking_id, actionInteractions=[{**entry, "eventType": "Taken"}]
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    _, code, _ = error_of(events.put_events, trackingId=group.action_tracking_id, sessionId="s", eventList=[click("i")])
    assert code == "InvalidInputException"


# ---- resources that are not ACTIVE ---------------------------------------------------------------------------


def test_inactive_targets_are_refused(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A dataset or tracker stuck in DELETE PENDING (server restarted with no job worker): 409 / InvalidInput."""
    data_dir = tmp_path_factory.mktemp("inactive")
    live = LiveServer(data_dir)
    live.start()
    try:
        group = make_group(live.client("personalize"), live, ("Items", "Action_Interactions", "Interactions"), tracker=True)
        bare = make_group(live.client("personalize"), live, ("Interactions",), tracker=False)
    finally:
        live.stop()
    frozen = LiveServer(data_dir, env={"OPENPERSONALIZE_WORKER_THREADS": "0"})
    frozen.start()
    try:
        personalize, client = frozen.client("personalize"), frozen.client("personalize-events")
        for arn in group.datasets.values():
            personalize.delete_dataset(datasetArn=arn)
        trackers = personalize.list_event_trackers(datasetGroupArn=group.arn)["eventTrackers"]
        personalize.delete_event_tracker(eventTrackerArn=trackers[0]["eventTrackerArn"])

        status, code, message = error_of(client.put_items, datasetArn=group.datasets["Items"], items=[{"itemId": "x"}])
        assert (status, code) == (409, "ResourceInUseException") and "DELETE PENDING" in message
        entry = {"actionId": "a", "sessionId": "s", "timestamp": 1, "eventType": "Taken"}
        status, code, _ = error_of(client.put_action_interactions, trackingId=group.action_tracking_id, actionInteractions=[entry])
        assert (status, code) == (409, "ResourceInUseException")
        status, code, message = error_of(client.put_events, trackingId=group.tracking_id, sessionId="s", eventList=[click("i")])
        assert (status, code) == (400, "InvalidInputException") and "DELETE PENDING" in message

        # A tracker that never became ACTIVE takes no events and cannot be deleted yet.
        pending = personalize.create_event_tracker(name=unique("ev-trk"), datasetGroupArn=bare.arn)
        status, code, message = error_of(client.put_events, trackingId=pending["trackingId"], sessionId="s", eventList=[click("i")])
        assert (status, code) == (400, "InvalidInputException") and "CREATE PENDING" in message
        _, code, message = error_of(personalize.delete_event_tracker, eventTrackerArn=pending["eventTrackerArn"])
        assert code == "ResourceInUseException" and "CREATE PENDING" in message
    finally:
        frozen.stop()


def test_a_recreated_dataset_does_not_inherit_put_rows(personalize: Any, events: Any, server: LiveServer) -> None:
    fresh = make_group(personalize, server, ("Users",), tracker=False)
    arn = fresh.datasets["Users"]
    events.put_users(datasetArn=arn, users=[{"userId": "old", "properties": '{"membership": "gold"}'}])
    assert len(fresh.frame("Users")) == 1
    personalize.delete_dataset(datasetArn=arn)
    deadline = time.monotonic() + 30
    while arn in [d["datasetArn"] for d in personalize.list_datasets(datasetGroupArn=fresh.arn)["datasets"]]:
        assert time.monotonic() < deadline, "dataset not deleted in 30 s"
        time.sleep(0.05)
    schema_arn = personalize.create_schema(name=unique("ev-users2"), schema=SCHEMAS["Users"])["schemaArn"]
    again = personalize.create_dataset(name=unique("ev-ds"), schemaArn=schema_arn, datasetGroupArn=fresh.arn, datasetType="Users")
    assert again["datasetArn"] == arn
    wait_for(lambda: personalize.describe_dataset(datasetArn=arn)["dataset"])
    assert fresh.frame("Users") == []
    events.put_users(datasetArn=arn, users=[{"userId": "new", "properties": '{"membership": "silver"}'}])
    assert fresh.frame("Users") == [{"USER_ID": "new", "MEMBERSHIP": "silver", "AGE": None}]
