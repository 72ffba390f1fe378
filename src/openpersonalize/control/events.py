"""The personalize-events API: PutEvents, PutItems, PutUsers, PutActions, PutActionInteractions (spec §4.5, §10).

Each request is validated whole (all-or-nothing), turned into rows keyed by schema column names and appended to
the dataset's durable event log before the 200 is sent: the log fsyncs, so an acknowledged row survives a crash.

Hot path: PutEvents costs two indexed metadata reads (tracker, dataset) plus one log append. Parsed schemas
are cached per dataset and re-parsed when the dataset changes (UpdateDataset swaps its schemaArn); the
trackingId → ARN mapping is cached because a tracking id (a UUID) never moves to another resource.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import InvalidInputException, ResourceInUseException, ResourceNotFoundException
from ..data.schema import Field, Schema, camel_case, parse_schema
from ..serving import realtime
from ..serving.cache import BoundedCache
from .common import ACTIVE
from .context import RequestContext
from ..data.metadata import Record

if TYPE_CHECKING:
    from ..data.eventlog import EventLog

MAX_EVENT_BYTES = 10 * 1024  # "≤10 KB per event" (spec §4.5, §11)
MAX_STRING = 1000  # categorical and plain string values (spec §4.2 value-level rules)
MAX_TEXTUAL = 20_000
INT_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
ID_COLUMNS = frozenset({"USER_ID", "ITEM_ID", "ACTION_ID"})

# Keys that must not appear in an event's properties: they come from request members (spec §10.1).
# Normalised (lower case, no separators) → the member that carries the value.
EVENT_FORBIDDEN = {
    "userid": "userId",
    "sessionid": "sessionId",
    "eventtype": "eventType",
    "timestamp": "sentAt",
    "recommendationid": "recommendationId",
    "impression": "impression",
    "eventattributionsource": "metricAttribution.eventAttributionSource",
}
ACTION_EVENT_FORBIDDEN = {
    "userid": "userId",
    "sessionid": "sessionId",
    "actionid": "actionId",
    "eventtype": "eventType",
    "timestamp": "timestamp",
    "recommendationid": "recommendationId",
    "impression": "impression",
}

# PutItems / PutUsers / PutActions: dataset type → (list member, id member, id column).
RECORD_APIS = {
    "ITEMS": ("items", "itemId", "ITEM_ID"),
    "USERS": ("users", "userId", "USER_ID"),
    "ACTIONS": ("actions", "actionId", "ACTION_ID"),
}
# Action event types as the docs spell them in various places ("Not taken", "NOT_TAKEN"…) → stored form.
ACTION_EVENT_TYPES = {"taken": "TAKEN", "nottaken": "NOT_TAKEN", "viewed": "VIEWED"}

@dataclass(frozen=True)
class Target:
    """A dataset ready to receive rows: its record, parsed schema and properties-key lookup."""

    dataset: Record
    schema: Schema
    by_key: dict[str, Field]  # normalised field name → field (names are unique after normalising, spec §4.1)
    version: tuple[str, float]


# ---- handlers ------------------------------------------------------------------------------------------------


def put_events(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """PutEvents."""
    target = _interactions_target(ctx, params["trackingId"])
    rows = [_event_row(params, event, index, target) for index, event in enumerate(params["eventList"], 1)]
    serving = ctx.services.serving
    realtime.annotate_events(params["eventList"], rows, set(target.schema.names), serving.recalled)
    _event_log(ctx).append(target.dataset.arn, rows)
    serving.models.follow(target.dataset.body["datasetGroupArn"])  # the served history sees them at once
    return {}


def put_items(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """PutItems."""
    return _put_records(ctx, params, "ITEMS")


def put_users(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """PutUsers."""
    return _put_records(ctx, params, "USERS")


def put_actions(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """PutActions."""
    return _put_records(ctx, params, "ACTIONS")


def put_action_interactions(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """PutActionInteractions."""
    target = _action_interactions_target(ctx, params["trackingId"])
    interactions = params["actionInteractions"]
    rows = [_action_event_row(event, index, target) for index, event in enumerate(interactions, 1)]
    _event_log(ctx).append(target.dataset.arn, rows)
    return {}


def _put_records(ctx: RequestContext, params: dict[str, Any], dataset_type: str) -> dict[str, Any]:
    member, id_member, id_column = RECORD_APIS[dataset_type]
    target = _target(ctx, _record_dataset(ctx, params["datasetArn"], dataset_type))
    rows = []
    for index, record in enumerate(params[member], 1):
        where = f"{member}[{index}]"
        forbidden = {_norm(id_member): id_member}
        row = _properties(record.get("properties"), target, f"{where}.properties", forbidden)
        row[id_column] = record[id_member]
        _check_complete(row, target, where)
        rows.append(row)
    _event_log(ctx).append(target.dataset.arn, rows)
    if dataset_type == "ITEMS":
        ctx.services.serving.models.items_changed(target.dataset.body["datasetGroupArn"])  # new items become explorable
    return {}


# ---- resolving the target dataset ----------------------------------------------------------------------------


def _event_log(ctx: RequestContext) -> "EventLog":
    return ctx.services.data.events


def _interactions_target(ctx: RequestContext, tracking_id: str) -> Target:
    """The Interactions dataset behind an ACTIVE tracker. PutEvents models only InvalidInputException."""
    tracker = _cached_lookup(ctx, ctx.services.serving.trackers, tracking_id, "event-tracker",
                             lambda: _find_tracker(ctx, tracking_id))
    if tracker is None:
        raise InvalidInputException(f"trackingId {tracking_id!r} does not belong to any event tracker.")
    if tracker.status != ACTIVE:
        raise InvalidInputException(
            f"Event tracker {tracker.arn} (trackingId {tracking_id}) is {tracker.status}; it must be ACTIVE."
        )
    group_arn = tracker.body["datasetGroupArn"]
    dataset = _group_dataset(ctx, group_arn, "INTERACTIONS")
    if dataset is None:
        raise InvalidInputException(
            f"Dataset group {group_arn} of trackingId {tracking_id} has no Interactions dataset to record events in."
        )
    if dataset.status != ACTIVE:
        raise InvalidInputException(f"Interactions dataset {dataset.arn} is {dataset.status}; it must be ACTIVE.")
    return _target(ctx, dataset)


def _action_interactions_target(ctx: RequestContext, tracking_id: str) -> Target:
    dataset = _cached_lookup(ctx, ctx.services.serving.action_trackers, tracking_id, "dataset",
                             lambda: _find_action_dataset(ctx, tracking_id))
    if dataset is None:
        raise ResourceNotFoundException(
            f"trackingId {tracking_id!r} does not belong to any Action_Interactions dataset."
        )
    if dataset.status != ACTIVE:
        raise ResourceInUseException(
            f"Action_Interactions dataset {dataset.arn} (trackingId {tracking_id}) is {dataset.status}; "
            "it must be ACTIVE."
        )
    return _target(ctx, dataset)


def _record_dataset(ctx: RequestContext, arn: str, dataset_type: str) -> Record:
    dataset = ctx.store.get(arn, "dataset")
    if dataset is None:
        raise ResourceNotFoundException(f"Could not find dataset with ARN {arn}.")
    actual = dataset.body.get("datasetType")
    if actual != dataset_type:
        raise InvalidInputException(
            f"Dataset {arn} is a {actual} dataset; Put{RECORD_APIS[dataset_type][0].capitalize()} needs "
            f"a {dataset_type} dataset."
        )
    if dataset.status != ACTIVE:
        raise ResourceInUseException(f"Dataset {arn} is {dataset.status}; it must be ACTIVE.")
    return dataset


def _cached_lookup(
    ctx: RequestContext, cache: BoundedCache[str, str], key: str, kind: str, find: Callable[[], Record | None]
) -> Record | None:
    """Resolve through ``cache`` (positive answers only); the record itself, for its current status, is read
    at most once per second like a campaign's (``ServingState.record``): two metadata reads cost more than the
    rest of a PutEvents."""
    arn = cache.get(key)
    record = ctx.services.serving.record(arn, kind) if arn else None
    if record is None:
        record = find()
        if record is None:
            cache.pop(key)
            return None
        cache.put(key, record.arn)
    return record


def _find_tracker(ctx: RequestContext, tracking_id: str) -> Record | None:
    return next((r for r in ctx.store.list("event-tracker") if r.body.get("trackingId") == tracking_id), None)


def _find_action_dataset(ctx: RequestContext, tracking_id: str) -> Record | None:
    datasets = ctx.store.list("dataset")
    return next(
        (
            r
            for r in datasets
            if r.body.get("trackingId") == tracking_id and r.body.get("datasetType") == "ACTION_INTERACTIONS"
        ),
        None,
    )


def _group_dataset(ctx: RequestContext, group_arn: str, dataset_type: str) -> Record | None:
    # Dataset ARNs are <group ARN with dataset-group → dataset>/<TYPE> (spec §3.1): one indexed read.
    arn = group_arn.replace(":dataset-group/", ":dataset/", 1) + "/" + dataset_type
    dataset = ctx.services.serving.record(arn, "dataset")
    if dataset is not None:
        return dataset
    siblings = ctx.store.list("dataset", parent=group_arn)
    return next((r for r in siblings if r.body.get("datasetType") == dataset_type), None)


def _target(ctx: RequestContext, dataset: Record) -> Target:
    """The dataset with its parsed schema, from the cache unless the dataset changed since it was parsed."""
    version = (dataset.body["schemaArn"], float(dataset.body.get("lastUpdatedDateTime", dataset.created)))
    targets = ctx.services.serving.event_targets
    cached = targets.get(dataset.arn, lambda found: bool(found.version == version))
    if cached is not None:
        return Target(dataset, cached.schema, cached.by_key, version)
    schema_record = ctx.store.require(dataset.body["schemaArn"], "schema", "schema")
    schema = parse_schema(schema_record.body["schema"])
    target = Target(dataset, schema, {_norm(f.name): f for f in schema.fields}, version)
    targets.put(dataset.arn, target)
    return target


# ---- rows ----------------------------------------------------------------------------------------------------


def _event_row(params: dict[str, Any], event: dict[str, Any], index: int, target: Target) -> dict[str, Any]:
    """One PutEvents event → one Interactions row (column table of spec §10.1)."""
    where = f"eventList[{index}]"
    _check_size(event, where)
    props = _properties(event.get("properties"), target, f"{where}.properties", EVENT_FORBIDDEN)
    members = {
        "USER_ID": ("userId", params.get("userId", params["sessionId"])),
        "ITEM_ID": ("itemId", event.get("itemId")),
        "TIMESTAMP": ("sentAt", math.floor(event["sentAt"])),  # epoch seconds, whole (spec §1.5)
        "EVENT_TYPE": ("eventType", event["eventType"]),
        "EVENT_VALUE": ("eventValue", event.get("eventValue")),
        "IMPRESSION": ("impression", _impression(event, where)),
        "RECOMMENDATION_ID": ("recommendationId", event.get("recommendationId")),
        "EVENT_ATTRIBUTION_SOURCE": (
            "metricAttribution.eventAttributionSource",
            (event.get("metricAttribution") or {}).get("eventAttributionSource"),
        ),
    }
    row = _member_columns(members, props, target, where)
    row["$eid"] = event.get("eventId") or str(uuid.uuid4())  # generated when absent (spec §10.1)
    row["$sid"] = params["sessionId"]
    if "userId" not in params:
        row["$anon"] = True  # session-only events are not used in training (spec §10.2)
    _check_complete(row, target, where)
    return row


def _action_event_row(event: dict[str, Any], index: int, target: Target) -> dict[str, Any]:
    """One PutActionInteractions entry → one Action_Interactions row (spec §10.4)."""
    where = f"actionInteractions[{index}]"
    _check_size(event, where)
    props = _properties(event.get("properties"), target, f"{where}.properties", ACTION_EVENT_FORBIDDEN)
    members = {
        "USER_ID": ("userId", event.get("userId", event["sessionId"])),
        "ACTION_ID": ("actionId", event["actionId"]),
        "TIMESTAMP": ("timestamp", math.floor(event["timestamp"])),
        "EVENT_TYPE": ("eventType", _action_event_type(event["eventType"], where)),
        "IMPRESSION": ("impression", _impression(event, where)),
        "RECOMMENDATION_ID": ("recommendationId", event.get("recommendationId")),
    }
    row = _member_columns(members, props, target, where)
    row["$eid"] = event.get("eventId") or str(uuid.uuid4())
    row["$sid"] = event["sessionId"]
    if "userId" not in event:
        row["$anon"] = True
    _check_complete(row, target, where)
    return row


def _member_columns(
    members: dict[str, tuple[str, Any]], props: dict[str, Any], target: Target, where: str
) -> dict[str, Any]:
    """Columns filled from request members, merged with the properties columns.

    A member whose column is not in the schema is dropped (EVENT_TYPE is required on the wire even when the
    schema has none, spec §10.1). ``itemId`` / ``eventValue`` may come, legacy style, from properties instead.
    """
    row = dict(props)
    for column, (member, value) in members.items():
        if value is None:
            continue
        if column in props:
            raise InvalidInputException(
                f"{where} gives {column} twice: as {member} and in properties; give it once, as {member}."
            )
        field = target.schema.field(column)
        if field is not None:
            row[column] = _coerce(field, value, f"{where}.{member}")
    return row


def _properties(text: str | None, target: Target, where: str, forbidden: dict[str, str]) -> dict[str, Any]:
    """A ``properties`` JSON-in-string → {COLUMN: value}; camelCase keys map to UPPER_SNAKE columns (spec §4.5)."""
    if text is None:
        return {}
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputException(f"{where} is not valid JSON: {exc}.") from None
    if not isinstance(doc, dict):
        raise InvalidInputException(f"{where} must be a JSON object, got {type(doc).__name__} {text[:80]!r}.")
    row: dict[str, Any] = {}
    for key, value in doc.items():
        norm = _norm(key)
        if norm in forbidden:
            raise InvalidInputException(
                f"{where} must not contain the key {key!r}: its value is given by the {forbidden[norm]} member."
            )
        field = target.by_key.get(norm)
        if field is None:
            raise InvalidInputException(
                f"{where} key {key!r} is not a field of schema {target.dataset.body['schemaArn']}; "
                f"allowed keys: {_allowed_keys(target, forbidden)}."
            )
        if field.name in row:
            raise InvalidInputException(f"{where} gives field {field.name} twice (key {key!r}).")
        row[field.name] = _coerce(field, value, f"{where} key {key!r}")
    return row


def _coerce(field: Field, value: Any, where: str) -> Any:
    """``value`` as the Python type of ``field``'s Avro type; mismatches name the place and the rule."""
    if value is None:
        if field.nullable:
            return None
        raise InvalidInputException(f"{where} is null, but field {field.name} is not nullable in the schema.")
    if field.type == "string":
        return _as_string(field, value, where)
    if field.type == "boolean":
        return _as_boolean(field, value, where)
    if field.type in INT_RANGES:
        return _as_int(field, value, where)
    return _as_float(field, value, where)


def _mismatch(field: Field, value: Any, where: str, expected: str) -> InvalidInputException:
    return InvalidInputException(
        f"{where} has value {value!r} but field {field.name} has type {field.type} in the schema: expected {expected}."
    )


def _as_string(field: Field, value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _mismatch(field, value, where, "a string")
    limit = MAX_TEXTUAL if field.textual else MAX_STRING
    if field.name not in ID_COLUMNS and len(value) > limit:
        raise InvalidInputException(
            f"{where} is {len(value)} characters long; field {field.name} allows at most {limit}."
        )
    return value


def _as_boolean(field: Field, value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _mismatch(field, value, where, "true or false")


def _as_int(field: Field, value: Any, where: str) -> int:
    # AWS's own PutItems examples send numbers as strings ("numberOfRatings": "12"): accept exact numerals.
    number: Any = value
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            raise _mismatch(field, value, where, "an integer") from None
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    if isinstance(number, bool) or not isinstance(number, int):
        raise _mismatch(field, value, where, "an integer")
    low, high = INT_RANGES[field.type]
    if not low <= number <= high:
        raise InvalidInputException(f"{where} is {number}, outside the range of {field.type} field {field.name}.")
    return int(number)


def _as_float(field: Field, value: Any, where: str) -> float:
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _mismatch(field, value, where, "a number") from None
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
        raise _mismatch(field, value, where, "a finite number")
    return float(number)


def _impression(event: dict[str, Any], where: str) -> str | None:
    items = event.get("impression")
    if not items:
        return None
    joined = "|".join(items)
    if len(joined) > MAX_STRING:
        raise InvalidInputException(
            f"{where}.impression joined with '|' is {len(joined)} characters; at most {MAX_STRING} are allowed."
        )
    return joined


def _action_event_type(text: str, where: str) -> str:
    stored = ACTION_EVENT_TYPES.get(_norm(text))
    if stored is None:
        raise InvalidInputException(
            f"{where}.eventType {text!r} is not an action event type: expected Taken, Not Taken or Viewed "
            "(any case, space, '_' or '-' between words)."
        )
    return stored


def _check_size(event: dict[str, Any], where: str) -> None:
    size = len(orjson.dumps(event))
    if size > MAX_EVENT_BYTES:
        raise InvalidInputException(f"{where} is {size} bytes; an event can be at most {MAX_EVENT_BYTES} bytes.")


def _check_complete(row: dict[str, Any], target: Target, where: str) -> None:
    """Every non-nullable schema field needs a value (from a member or from properties)."""
    for field in target.schema.fields:
        if not field.nullable and row.get(field.name) is None:
            raise InvalidInputException(
                f"{where} gives no value for {field.name}, which is required (not nullable) in schema "
                f"{target.dataset.body['schemaArn']}; set it as {_source_hint(field.name)}."
            )


def _source_hint(column: str) -> str:
    members = {"ITEM_ID": "itemId", "EVENT_VALUE": "eventValue", "IMPRESSION": "impression",
               "RECOMMENDATION_ID": "recommendationId", "USER_ID": "userId", "ACTION_ID": "actionId"}
    return members.get(column) or f"properties key {camel_case(column)!r}"


def _allowed_keys(target: Target, forbidden: dict[str, str]) -> str:
    keys = [camel_case(f.name) for f in target.schema.fields if f.name not in ID_COLUMNS and _norm(f.name) not in forbidden]
    return ", ".join(keys) if keys else "none (this schema has no property columns)"


def _norm(key: str) -> str:
    """``numberOfRatings``, ``NUMBER_OF_RATINGS`` and ``number-of-ratings`` all → ``numberofratings``."""
    return re.sub(r"[^0-9a-z]", "", key.lower())

