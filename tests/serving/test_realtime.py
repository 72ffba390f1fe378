"""GroupHistory and the request pipeline without a server: events followed from the durable log, session merge,
context popularity, impressions, bounded tails rebuilt from the log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from openpersonalize.data.eventlog import EventLog
from openpersonalize.data.schema import parse_schema
from openpersonalize.data.store import DataStore
from openpersonalize.serving import recommend
from openpersonalize.serving.models import Catalog
from openpersonalize.serving.realtime import EventFeed, GroupHistory, annotate_events, replayed_session_merges

ARN = "arn:aws:personalize:us-east-1:1:dataset/g/INTERACTIONS"
EMPTY = pl.DataFrame(schema={"USER_ID": pl.String, "ITEM_ID": pl.String, "TIMESTAMP": pl.Int64, "EVENT_TYPE": pl.String})


@pytest.fixture
def log(tmp_path: Path) -> EventLog:
    return EventLog(tmp_path / "eventlog")


def _history(log: EventLog, max_users: int = 100) -> GroupHistory:
    frame = pl.DataFrame({
        "USER_ID": ["a", "a", "b", "c", "c"],
        "ITEM_ID": ["i1", "i2", "i1", "i3", "i2"],
        "TIMESTAMP": [1, 2, 1, 5, 6],
        "EVENT_TYPE": ["Click"] * 5,
        "DEVICE": ["tv", "tv", "phone", "phone", "phone"],
    })
    return GroupHistory(frame, EventFeed(log, ARN, log.head()), max_users)


def test_bulk_history_then_streamed_events_in_order(log: EventLog) -> None:
    history = _history(log)
    assert history.get("a").item_ids == ["i1", "i2"]
    before = history.user_version("a")
    log.append(ARN, [{"USER_ID": "a", "ITEM_ID": "i9", "TIMESTAMP": 10, "EVENT_TYPE": "Watch", "$sid": "s"}])
    events = history.get("a")
    assert events.item_ids == ["i1", "i2", "i9"] and events.event_types[-1] == "Watch"
    assert history.user_version("a") != before and history.latest_timestamp == 10


def test_anonymous_session_merges_into_the_user_once(log: EventLog) -> None:
    history = _history(log)
    history.get("s1")  # the session's tail is in memory when the sign-in arrives
    log.append(ARN, [{"USER_ID": "s1", "ITEM_ID": "i7", "TIMESTAMP": 3, "$sid": "s1", "$anon": True}])
    log.append(ARN, [{"USER_ID": "u9", "ITEM_ID": "i8", "TIMESTAMP": 4, "$sid": "s1"}])
    log.append(ARN, [{"USER_ID": "u9", "ITEM_ID": "i6", "TIMESTAMP": 5, "$sid": "s1"}])
    assert history.get("u9").item_ids == ["i7", "i8", "i6"]


def test_context_popularity_counts_distinct_users_per_value(log: EventLog) -> None:
    history = _history(log)
    assert history.context_popularity[("DEVICE", "phone")] == {"i1": 1, "i3": 1, "i2": 1}
    assert history.context_popularity[("DEVICE", "tv")] == {"i1": 1, "i2": 1}


def test_impressions_count_only_unclicked_items(log: EventLog) -> None:
    history = _history(log)
    log.append(ARN, [{"USER_ID": "a", "ITEM_ID": "i3", "TIMESTAMP": 9, "$impression": "i2|i4|i3"}])
    log.append(ARN, [{"USER_ID": "a", "ITEM_ID": "i3", "TIMESTAMP": 9, "$impression": "i4"}])
    assert history.get("a").unclicked_impressions() == {"i4": 2}


def test_implicit_impressions_come_from_the_recommendation() -> None:
    shown = {"RID-1": ("arn:campaign", ["i1", "i2"])}
    rows = [{"USER_ID": "a"}, {"USER_ID": "a"}]
    events = [{"recommendationId": "RID-1"}, {"recommendationId": "RID-1", "impression": ["i5"]}]
    annotate_events(events, rows, {"IMPRESSION", "EVENT_ATTRIBUTION_SOURCE"}, shown.get)
    assert rows[0]["IMPRESSION"] == "i1|i2" and rows[0]["EVENT_ATTRIBUTION_SOURCE"] == "arn:campaign"
    assert rows[1]["IMPRESSION"] == "i5"  # explicit wins


def test_demotion_sinks_shown_items_more_the_more_they_were_shown(log: EventLog) -> None:
    history = _history(log)
    log.append(ARN, [{"USER_ID": "b", "ITEM_ID": "i1", "TIMESTAMP": 9, "$impression": "i2|i3"},
                     {"USER_ID": "b", "ITEM_ID": "i1", "TIMESTAMP": 9, "$impression": "i3"}])
    ids = np.array(["i1", "i2", "i3", "i4"])
    catalog = Catalog(ids, 4, np.ones(4, np.int64), np.full(4, np.nan), None, {})
    scores = np.array([1.0, 0.9, 0.8, 0.1], np.float32)
    out = recommend.demote_impressions(scores, catalog, history.get("b"))
    assert out[0] == scores[0] and out[3] == scores[3]
    assert scores[1] - out[1] < scores[2] - out[2]  # i3 shown twice, i2 once


def test_session_merges_are_replayed_from_the_event_log_after_a_restart(tmp_path: Path) -> None:
    """The live merge and the one rebuilt from the durable log give the user the same history."""
    arn = ARN
    batches = [
        [{"USER_ID": "s1", "ITEM_ID": "i7", "TIMESTAMP": 3, "EVENT_TYPE": "Click", "$sid": "s1", "$anon": True, "$eid": "e1"}],
        [{"USER_ID": "u9", "ITEM_ID": "i8", "TIMESTAMP": 4, "EVENT_TYPE": "Click", "$sid": "s1", "$eid": "e2"}],
        # anonymous again after the sign-in: the live merge does not repeat, so neither does the replay
        [{"USER_ID": "s1", "ITEM_ID": "i5", "TIMESTAMP": 6, "EVENT_TYPE": "Click", "$sid": "s1", "$anon": True, "$eid": "e3"}],
        [{"USER_ID": "u9", "ITEM_ID": "i6", "TIMESTAMP": 7, "EVENT_TYPE": "Click", "$sid": "s1", "$eid": "e4"}],
    ]
    log = EventLog(tmp_path)
    live = GroupHistory(EMPTY, EventFeed(log, arn, log.head()))
    live.get("s1")
    for rows in batches:
        log.append(arn, rows)
        live.sync()
    types = {"USER_ID": pl.String, "ITEM_ID": pl.String, "TIMESTAMP": pl.Int64, "EVENT_TYPE": pl.String}
    stored = log.columns(arn, types)
    assert stored is not None
    frame = log.columns(arn, types | {"$sid": pl.String, "$anon": pl.Boolean})
    assert frame is not None
    restarted = GroupHistory(pl.concat([stored, replayed_session_merges(frame)], how="diagonal_relaxed"))
    assert live.get("u9").item_ids == ["i7", "i8", "i6"]
    assert restarted.get("u9").item_ids == live.get("u9").item_ids
    assert restarted.get("s1").item_ids == ["i7", "i5"]
    log.close()


# ---- bounded tails ------------------------------------------------------------------------------------------------

SESSION_STORY = [  # anonymous browsing, a sign-in, impressions, more browsing after it, a second session
    [{"USER_ID": "s1", "ITEM_ID": "i7", "TIMESTAMP": 3, "EVENT_TYPE": "Click", "$sid": "s1", "$anon": True,
      "$impression": "i4|i5"}],
    [{"USER_ID": "u9", "ITEM_ID": "i8", "TIMESTAMP": 4, "EVENT_TYPE": "Watch", "$sid": "s1", "$impression": "i2"}],
    [{"USER_ID": "s1", "ITEM_ID": "i5", "TIMESTAMP": 6, "EVENT_TYPE": "Click", "$sid": "s1", "$anon": True}],
    [{"USER_ID": "u9", "ITEM_ID": "i6", "TIMESTAMP": 7, "EVENT_TYPE": "Click", "$sid": "s1"}],
    [{"USER_ID": "s2", "ITEM_ID": "i1", "TIMESTAMP": 1, "EVENT_TYPE": "Click", "$sid": "s2", "$anon": True}],
    [{"USER_ID": "u9", "TIMESTAMP": 8, "EVENT_TYPE": "Click", "$sid": "s2", "$impression": "i3|i4"}],
    [{"USER_ID": "a", "ITEM_ID": "i9", "TIMESTAMP": 9, "EVENT_TYPE": "Click", "$sid": "a"}],
]


def _seen(history: GroupHistory, user: str) -> tuple[Any, ...]:
    events = history.get(user)
    return events.item_ids, events.event_types, events.timestamps, events.shown, history.user_version(user)


def test_an_evicted_user_comes_back_from_the_log_identical(log: EventLog) -> None:
    roomy, tight = _history(log), _history(log, max_users=1)
    for user in ("s1", "s2", "u9", "a"):  # every tail lives in memory in the roomy history
        roomy.get(user)
    for rows in SESSION_STORY:
        log.append(ARN, rows)
        roomy.sync()
        tight.get("a")  # keeps only "a": the sessions and u9 are rebuilt from the log when asked for
    for user in ("u9", "s1", "a", "s2", "u9"):
        assert _seen(tight, user) == _seen(roomy, user), user
    assert roomy.get("u9").item_ids == ["i1", "i7", "i8", "i6"]  # both sessions merged, in time order
    assert roomy.get("u9").shown == {"i4": 2, "i5": 1, "i2": 1, "i3": 1}
    assert tight.stats().entries == 1 and tight.stats().evictions > 0


def test_only_an_evicted_user_costs_a_log_read(log: EventLog, monkeypatch: pytest.MonkeyPatch) -> None:
    history = _history(log, max_users=1)
    reads: list[str] = []
    real = log.user_rows
    monkeypatch.setattr(log, "user_rows", lambda arn, user, *bounds: reads.append(user) or real(arn, user, *bounds))
    log.append(ARN, [{"USER_ID": "a", "ITEM_ID": "i9", "TIMESTAMP": 9}])  # a first event: the tail is that row
    assert history.get("a").item_ids == ["i1", "i2", "i9"]
    assert history.get("b").item_ids == ["i1"] and history.user_version("b") == 0  # no event: nothing to read
    log.append(ARN, [{"USER_ID": "c", "ITEM_ID": "i8", "TIMESTAMP": 9}])  # c's tail takes the only place
    assert reads == []
    assert history.get("a").item_ids == ["i1", "i2", "i9"] and reads == ["a"]


def test_a_second_process_sees_the_first_ones_events(tmp_path: Path) -> None:
    server, other = EventLog(tmp_path), EventLog(tmp_path)
    history = GroupHistory(EMPTY, EventFeed(server, ARN, server.head()))
    assert history.get("u1").item_ids == []
    other.append(ARN, [{"USER_ID": "u1", "ITEM_ID": "i1", "TIMESTAMP": 1}])
    assert history.get("u1").item_ids == ["i1"] and history.user_version("u1") == 1
    other.append(ARN, [{"USER_ID": "u1", "ITEM_ID": "i2", "TIMESTAMP": 2}])
    assert history.user_version("u1") == 2 and history.get("u1").item_ids == ["i1", "i2"]


def test_a_snapshot_read_after_repeated_events_equals_following_them(tmp_path: Path) -> None:
    """Events repeating one another but for their ids (the same item twice in one second) are all in a user's
    tail; a node that reads its snapshot after them (a restart) must hold them too, or answer differently.
    Training still stores them once (spec §10.1)."""
    store = DataStore(tmp_path)
    schema = parse_schema('{"type": "record", "name": "Interactions", "fields": [{"name": "USER_ID", "type": "string"}, '
                          '{"name": "ITEM_ID", "type": "string"}, {"name": "EVENT_TYPE", "type": "string"}, '
                          '{"name": "TIMESTAMP", "type": "long"}]}')
    live = GroupHistory(EMPTY, EventFeed(store.events, ARN, store.events.head()))
    live.get("u")
    store.events.append(ARN, [{"USER_ID": "u", "ITEM_ID": item, "TIMESTAMP": 5, "EVENT_TYPE": "Click", "$eid": f"e{k}"}
                              for k, item in enumerate(["i1", "i2", "i1"])])
    live.sync()
    restarted = GroupHistory(store.read_dataset(ARN, schema, duplicates=True))
    assert restarted.get("u").item_ids == live.get("u").item_ids == ["i1", "i2", "i1"]
    assert store.read_dataset(ARN, schema)["ITEM_ID"].to_list() == ["i2", "i1"]
    store.events.close()
