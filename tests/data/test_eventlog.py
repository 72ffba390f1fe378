"""The durable event log: typed reads, fsync before return, group commit, torn tails, atomic rewrites."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from openpersonalize.data.eventlog import EventLog
from openpersonalize.data.schema import parse_schema

ARN = "arn:aws:personalize:us-east-1:123456789012:dataset/dg/INTERACTIONS"
ITEMS_ARN = "arn:aws:personalize:us-east-1:123456789012:dataset/dg/ITEMS"

INTERACTIONS = parse_schema(
    """{"type": "record", "name": "Interactions", "fields": [
        {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"}, {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]}, {"name": "LIKED", "type": ["null", "boolean"]}]}"""
)
ITEMS = parse_schema(
    """{"type": "record", "name": "Items", "fields": [
        {"name": "ITEM_ID", "type": "string"}, {"name": "GENRES", "type": "string", "categorical": true}]}"""
)


def event(user: str, item: str, ts: int, **extra: Any) -> dict[str, Any]:
    return {"USER_ID": user, "ITEM_ID": item, "TIMESTAMP": ts, "EVENT_TYPE": "click", **extra}


@pytest.fixture
def log(tmp_path: Path) -> EventLog:
    return EventLog(tmp_path / "eventlog")


def test_read_is_typed_per_schema_and_drops_bookkeeping(log: EventLog) -> None:
    assert log.read(ARN, INTERACTIONS) is None
    log.append(ARN, [event("u1", "i1", 10, EVENT_VALUE=1.5, LIKED=True, **{"$sid": "s1", "$eid": "e1"})])
    log.append(ARN, [event("u2", "i2", 11, **{"$eid": "e2"})])
    frame = log.read(ARN, INTERACTIONS)
    assert frame is not None
    assert frame.columns == INTERACTIONS.names
    assert frame.schema == pl.Schema(
        {"USER_ID": pl.Utf8, "ITEM_ID": pl.Utf8, "TIMESTAMP": pl.Int64, "EVENT_TYPE": pl.Utf8,
         "EVENT_VALUE": pl.Float64, "LIKED": pl.Boolean}
    )
    assert frame.to_dicts() == [
        {"USER_ID": "u1", "ITEM_ID": "i1", "TIMESTAMP": 10, "EVENT_TYPE": "click", "EVENT_VALUE": 1.5, "LIKED": True},
        {"USER_ID": "u2", "ITEM_ID": "i2", "TIMESTAMP": 11, "EVENT_TYPE": "click", "EVENT_VALUE": None, "LIKED": None},
    ]
    assert log.rows(ARN)[0]["$sid"] == "s1"


def test_datasets_and_tenants_are_kept_apart(log: EventLog) -> None:
    other_account = ARN.replace("123456789012", "210987654321")
    log.append(ARN, [event("u1", "i1", 1)])
    log.append(other_account, [event("u9", "i9", 1)])
    assert log.path(ARN) != log.path(other_account)
    assert log.read(ITEMS_ARN, ITEMS) is None
    frame = log.read(other_account, INTERACTIONS)
    assert frame is not None and frame["USER_ID"].to_list() == ["u9"]


def test_reused_event_id_and_exact_duplicates_are_stored_once(log: EventLog) -> None:
    log.append(ARN, [event("u1", "i1", 1, **{"$eid": "a"}), event("u1", "i2", 2, **{"$eid": "a"})])
    log.append(ARN, [event("u1", "i3", 3), event("u1", "i3", 3)])
    frame = log.read(ARN, INTERACTIONS)
    assert frame is not None and frame["ITEM_ID"].to_list() == ["i1", "i3"]


def test_upserts_keep_append_order_so_the_last_row_per_id_is_newest(log: EventLog) -> None:
    for genres in ("a", "b", "a"):
        log.append(ITEMS_ARN, [{"ITEM_ID": "x", "GENRES": genres}])
    frame = log.read(ITEMS_ARN, ITEMS)
    assert frame is not None
    assert frame.unique("ITEM_ID", keep="last")["GENRES"].to_list() == ["a"]


def test_append_fsyncs_before_returning(log: EventLog, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        real_fsync(fd)
        synced.append(os.fstat(fd).st_size)

    monkeypatch.setattr(os, "fsync", spy)
    log.append(ARN, [event("u1", "i1", 1)])
    size = log.path(ARN).stat().st_size
    assert synced and synced[-1] == size  # the fsync covered the whole write


def test_concurrent_appends_share_fsyncs(log: EventLog, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        calls.append(fd)
        time.sleep(0.02)  # a slow disk: appenders arriving meanwhile wait for the next fsync
        real_fsync(fd)

    log.append(ARN, [event("warm", "up", 0)])  # opens the file (its directory fsync is not counted)
    monkeypatch.setattr(os, "fsync", slow_fsync)
    threads = [threading.Thread(target=log.append, args=(ARN, [event(f"u{n}", "i", n)])) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(log.rows(ARN)) == 33
    assert len(calls) <= 8, f"{len(calls)} fsyncs for 32 concurrent appends: no group commit"


def test_torn_tail_is_ignored_and_repaired(tmp_path: Path) -> None:
    first = EventLog(tmp_path)
    first.append(ARN, [event("u1", "i1", 1)])
    with open(first.path(ARN), "ab") as handle:  # what kill -9 mid-write leaves behind
        handle.write(b'{"USER_ID": "u2", "ITE')
    assert [r["USER_ID"] for r in first.rows(ARN)] == ["u1"]
    restarted = EventLog(tmp_path)
    restarted.append(ARN, [event("u3", "i3", 3)])
    assert [r["USER_ID"] for r in restarted.rows(ARN)] == ["u1", "u3"]
    assert first.path(ARN).read_bytes().count(b"\n") == 2


def test_delete_users_rewrites_atomically_and_appenders_follow(tmp_path: Path) -> None:
    server, worker = EventLog(tmp_path), EventLog(tmp_path)  # two processes sharing a data dir
    server.append(ARN, [event("u1", "i1", 1), event("u2", "i2", 2), event("u1", "i3", 3)])
    inode = server.path(ARN).stat().st_ino
    assert worker.delete_users(ARN, {"u1", "nobody"}) == 2
    assert worker.delete_users(ARN, {"nobody"}) == 0
    assert server.path(ARN).stat().st_ino != inode  # replaced, not edited in place
    server.append(ARN, [event("u4", "i4", 4)])  # the server's descriptor still names the old file
    frame = worker.read(ARN, INTERACTIONS)
    assert frame is not None and frame["USER_ID"].to_list() == ["u2", "u4"]
    assert not list(tmp_path.rglob("*.rewrite"))


def test_drop_forgets_a_deleted_dataset(log: EventLog) -> None:
    log.append(ARN, [event("u1", "i1", 1)])
    log.drop(ARN)
    assert log.read(ARN, INTERACTIONS) is None
    log.append(ARN, [event("u2", "i2", 2)])
    assert [r["USER_ID"] for r in log.rows(ARN)] == ["u2"]


def test_unsafe_arn_is_rejected(log: EventLog) -> None:
    with pytest.raises(ValueError):
        log.path("arn:aws:personalize:us-east-1:123456789012:dataset/../ITEMS")
