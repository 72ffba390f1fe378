"""The durable event log: typed reads, committed before return, group commit, rows after a sequence number,
per-user reads, deletes seen by every process, moving an older JSON-lines log in."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from sqlalchemy import event as sqlalchemy_event

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


def test_append_commits_with_synchronous_full_before_returning(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    log.append(ARN, [event("u1", "i1", 1)])
    with log.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL: the WAL is fsynced per commit
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    other = EventLog(tmp_path)  # another process sees the row: it was committed
    assert [r["USER_ID"] for r in other.rows(ARN)] == ["u1"]
    log.close(), other.close()


def test_concurrent_appends_share_commits(log: EventLog) -> None:
    commits = []

    def slow_commit(conn: Any) -> None:
        commits.append(1)
        time.sleep(0.02)  # a slow disk: appenders arriving meanwhile wait for the next commit

    log.append(ARN, [event("warm", "up", 0)])
    sqlalchemy_event.listen(log.engine, "commit", slow_commit)
    threads = [threading.Thread(target=log.append, args=(ARN, [event(f"u{n}", "i", n)])) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sqlalchemy_event.remove(log.engine, "commit", slow_commit)
    assert len(log.rows(ARN)) == 33
    assert len(commits) <= 8, f"{len(commits)} commits for 32 concurrent appends: no group commit"


def test_a_failed_commit_fails_every_appender_of_the_batch(log: EventLog) -> None:
    with pytest.raises(TypeError):
        log.append(ARN, [event("u1", object(), 1)])  # type: ignore[arg-type]
    log.append(ARN, [event("u2", "i2", 2)])  # the log keeps working
    assert [r["USER_ID"] for r in log.rows(ARN)] == ["u2"]


def test_concurrent_appenders_after_a_failed_commit_go_on(log: EventLog) -> None:
    """The appenders batched with a bad row fail with it; the turn to commit passes on, and every other appender
    is stored (none is left waiting)."""
    failed = []

    def slow_commit(conn: Any) -> None:
        time.sleep(0.01)

    def append(n: int) -> None:
        try:
            log.append(ARN, [event(f"u{n}", object() if n == 5 else "i", n)])  # type: ignore[arg-type]
        except TypeError:
            failed.append(n)

    sqlalchemy_event.listen(log.engine, "commit", slow_commit)
    threads = [threading.Thread(target=append, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    sqlalchemy_event.remove(log.engine, "commit", slow_commit)
    assert not any(thread.is_alive() for thread in threads)
    assert 5 in failed
    assert sorted(int(r["USER_ID"][1:]) for r in log.rows(ARN)) == sorted(set(range(24)) - set(failed))


def test_rows_after_a_sequence_number_and_per_user(log: EventLog) -> None:
    assert log.head() == 0
    log.append(ARN, [event("u1", "i1", 1), event("u2", "i2", 2)])
    first = log.head()
    log.append(ITEMS_ARN, [{"ITEM_ID": "x", "GENRES": "a"}])
    log.append(ARN, [event("u1", "i3", 3)])
    assert log.head() == first + 2
    assert [(r["USER_ID"], r["ITEM_ID"]) for _, r in log.since(ARN, first)] == [("u1", "i3")]
    everything = log.since(ARN, 0)
    assert [seq for seq, _ in everything] == sorted(seq for seq, _ in everything)
    assert [r["ITEM_ID"] for _, r in log.user_rows(ARN, "u1", 0, log.head())] == ["i1", "i3"]
    assert [r["ITEM_ID"] for _, r in log.user_rows(ARN, "u1", 0, first)] == ["i1"]
    assert log.rows(ARN, upto=first) == [r for _, r in everything[:2]]


def test_head_sees_another_process_append(tmp_path: Path) -> None:
    server, other = EventLog(tmp_path), EventLog(tmp_path)
    before = server.head()
    other.append(ARN, [event("u1", "i1", 1)])
    assert server.head() == before + 1
    assert server.since(ARN, before)[0][1]["USER_ID"] == "u1"
    server.close(), other.close()


def test_sequence_numbers_are_not_reused_after_deletes(log: EventLog) -> None:
    log.append(ARN, [event("u1", "i1", 1), event("u2", "i2", 2)])
    newest = log.head()
    log.delete_users(ARN, {"u2"})
    log.append(ARN, [event("u3", "i3", 3)])
    assert log.head() == newest + 1 and log.since(ARN, newest)[0][1]["USER_ID"] == "u3"


def test_delete_users_is_seen_by_every_process(tmp_path: Path) -> None:
    server, worker = EventLog(tmp_path), EventLog(tmp_path)  # two processes sharing a data dir
    server.append(ARN, [event("u1", "i1", 1), event("u2", "i2", 2), event("u1", "i3", 3)])
    assert worker.delete_users(ARN, {"u1", "nobody"}) == 2
    assert worker.delete_users(ARN, {"nobody"}) == 0
    server.append(ARN, [event("u4", "i4", 4)])
    frame = worker.read(ARN, INTERACTIONS)
    assert frame is not None and frame["USER_ID"].to_list() == ["u2", "u4"]
    server.close(), worker.close()


def test_an_older_json_lines_log_is_moved_in_once(tmp_path: Path) -> None:
    old = tmp_path / "us-east-1" / "123456789012" / "dataset" / "dg" / "INTERACTIONS.jsonl"
    old.parent.mkdir(parents=True)
    lines = [orjson.dumps(event(f"u{n}", "i", n, **{"$eid": f"e{n}"})) for n in range(3)]
    old.write_bytes(b"\n".join(lines) + b'\n{"USER_ID": "torn')  # a torn tail was never acknowledged
    (old.parent / "INTERACTIONS.jsonl.lock").touch()
    log = EventLog(tmp_path)
    assert [r["USER_ID"] for r in log.rows(ARN)] == ["u0", "u1", "u2"]
    assert not list(tmp_path.rglob("*.jsonl*"))
    log.append(ARN, [event("u3", "i", 3)])
    assert len(EventLog(tmp_path).rows(ARN)) == 4  # a second start moves nothing again


def test_drop_forgets_a_deleted_dataset(log: EventLog) -> None:
    log.append(ARN, [event("u1", "i1", 1)])
    log.drop(ARN)
    assert log.read(ARN, INTERACTIONS) is None
    log.append(ARN, [event("u2", "i2", 2)])
    assert [r["USER_ID"] for r in log.rows(ARN)] == ["u2"]


def test_changed_at_follows_the_newest_row(log: EventLog) -> None:
    assert log.changed_at(ARN) == 0.0
    before = time.time()
    log.append(ARN, [event("u1", "i1", 1)])
    assert before <= log.changed_at(ARN) <= time.time()
    assert log.changed_at(ITEMS_ARN) == 0.0
