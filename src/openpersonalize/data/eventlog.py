"""The durable log of individually imported rows (PutEvents, PutItems, PutUsers, PutActions, PutActionInteractions).

One SQL table (SQLAlchemy Core, so the same code runs on SQLite and PostgreSQL): a row per event in append order,
numbered by ``seq``, with its dataset and USER_ID copied out for indexed reads. Embedded deployments keep it in
their own SQLite file, ``<data dir>/eventlog/events.sqlite3``, in WAL mode with ``synchronous=FULL``: separate
from the metadata database, whose writers (jobs, resource changes) would otherwise queue behind event commits,
and whose ``synchronous=NORMAL`` would not make an acknowledged event durable.

Durability (DESIGN §3): ``append`` returns only after its transaction committed (fsync'd), so an acknowledged
request survives ``kill -9``. Throughput: one commit costs one fsync (milliseconds on a slow disk), so concurrent
appenders share commits (group commit): the first waiting appender writes every batch queued so far in one
transaction while the others wait for it; N requests arriving together cost about one commit, not N.

Readers: whole datasets in append order (training, imports' "ALL", exports, replays of session merges); one
user's rows after a sequence number (serving rebuilds an evicted user's recent events, serving/realtime.py);
every row after a sequence number (serving processes follow each other's events). ``seq`` only grows (SQLite
AUTOINCREMENT, PostgreSQL identity), and commits are serialised, so "rows after N" never misses a row that
commits later with a smaller number. ``head`` is the newest committed number, cheap to ask per request: on SQLite
``PRAGMA data_version`` says whether any other connection committed since the last look; elsewhere the head is
re-read at most every ``POLL_SECONDS``.

Row keys are schema column names; keys starting with ``$`` are bookkeeping of the caller (event id, session id)
that no Avro field can collide with. ``read`` returns schema columns only.

A data directory written by an older version holds one JSON-lines file per dataset under the log's folder; the
first start moves each into the table (once, in the same transaction that records it as moved) and deletes it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import polars as pl
from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from .durable import complete_lines, fsync_dir
from .metadata import CONNECT_SECONDS
from .schema import Schema

EVENT_ID = "$eid"  # the caller's event id; later rows reusing one are dropped by ``read`` (spec §10.1)
DATABASE_FILE = "events.sqlite3"
POLL_SECONDS = 0.25  # without SQLite's change counter, how stale ``head`` may be (other nodes' events)
DELETE_CHUNK = 500  # user ids per DELETE statement (bound parameters per statement stay small)
PG_APPEND_LOCK = 7_346_812  # advisory lock key: PostgreSQL appenders commit one at a time, in seq order

POLARS_TYPES: dict[str, Any] = {
    "string": pl.Utf8,
    "int": pl.Int64,
    "long": pl.Int64,
    "float": pl.Float64,
    "double": pl.Float64,
    "boolean": pl.Boolean,
}

tables = MetaData()
datasets = Table(
    "event_datasets", tables,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("arn", String(512), nullable=False, unique=True),
    sqlite_autoincrement=True,
)
events = Table(
    "events", tables,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("dataset", Integer, nullable=False),
    Column("user_id", String(256)),  # the row's USER_ID (None for items and actions)
    Column("at", Float, nullable=False),  # when it was appended (jobs/updates.py: "data changed since")
    Column("row", LargeBinary, nullable=False),  # the row as JSON
    Index("events_by_dataset", "dataset", "seq"),
    Index("events_by_user", "dataset", "user_id", "seq"),
    sqlite_autoincrement=True,  # a deleted newest row's number is never handed out again
)
migrated = Table("event_migrations", tables, Column("name", String(1024), primary_key=True))

Entry = tuple[int, dict[str, Any]]  # (seq, row)
# Serving's per-request reads, built once (an expression built per call costs more than the indexed read).
SINCE = (select(events.c.seq, events.c.row)
         .where(events.c.dataset == bindparam("d"), events.c.seq > bindparam("after")).order_by(events.c.seq))
USER_ROWS = (select(events.c.seq, events.c.row)
             .where(events.c.dataset == bindparam("d"), events.c.user_id == bindparam("user"),
                    events.c.seq > bindparam("after"), events.c.seq <= bindparam("upto"))
             .order_by(events.c.seq))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a commit is on disk before append returns
    cursor.execute("PRAGMA busy_timeout=30000")  # another process appending, deleting or migrating
    cursor.close()


def _engine(url: str) -> Engine:
    sqlite = url.startswith("sqlite")
    engine = create_engine(url, connect_args={"check_same_thread": False} if sqlite else {"connect_timeout": CONNECT_SECONDS})
    if sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    tables.create_all(engine)
    return engine


class _Pending:
    """One ``append`` call waiting for a commit: ``wake`` is set when its rows are committed (``done``) or when it
    is to commit the queue itself."""

    __slots__ = ("dataset", "rows", "done", "error", "wake")

    def __init__(self, dataset: int, rows: list[dict[str, Any]]) -> None:
        self.dataset, self.rows = dataset, rows
        self.done = False
        self.error: BaseException | None = None
        self.wake = threading.Event()


class _Head:
    """The newest committed ``seq``, cheap to ask: SQLite's change counter, or a poll every ``POLL_SECONDS``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._seq = -1
        self._polled = 0.0
        self._version: Any = None
        # A connection of its own, held for the process's life: data_version counts other connections' commits.
        self._held = engine.raw_connection() if engine.dialect.name == "sqlite" else None
        self._probe = self._held.driver_connection if self._held is not None else None
        self.counted = self._probe is not None  # commits of every connection show in data_version

    def get(self) -> int:
        with self._lock:
            if self._probe is not None:
                version = self._probe.execute("PRAGMA data_version").fetchone()[0]
                if version != self._version or self._seq < 0:
                    self._version = version
                    self._seq = max(self._seq, int(self._probe.execute("SELECT max(seq) FROM events").fetchone()[0] or 0))
                return self._seq
            now = time.monotonic()
            if now - self._polled >= POLL_SECONDS or self._seq < 0:
                self._polled = now
                with self._engine.connect() as conn:
                    self._seq = max(self._seq, int(conn.execute(select(func.max(events.c.seq))).scalar() or 0))
            return self._seq

    def advance(self, seq: int) -> None:
        """This process committed up to ``seq``: its own requests see it at once."""
        with self._lock:
            self._seq = max(self._seq, seq)

    def close(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = self._probe = None


class EventLog:
    """All individually imported rows; ``root`` is the folder of the embedded database (and of old JSON-lines
    logs to migrate), ``url`` another SQLAlchemy database to hold the table instead (PostgreSQL)."""

    def __init__(self, root: Path, url: str | None = None) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.url = url or f"sqlite:///{(root / DATABASE_FILE).resolve()}"
        self.engine = _engine(self.url)
        self._ids: dict[str, int] = {}
        self._ids_lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._lock = threading.Lock()
        self._writing = False
        self._writer: Connection | None = None  # the leader's connection, kept between commits
        self._head = _Head(self.engine)
        self._migrate_json_lines()

    # ---- appending -------------------------------------------------------------------------------------------

    def append(self, dataset_arn: str, rows: list[dict[str, Any]]) -> None:
        """Append ``rows`` (one request's worth) durably: committed before this returns.

        Group commit: callers arriving while a commit is under way queue up, and the next one in line commits the
        whole queue. Each waits on its own event, woken once: when its rows are committed, or when its turn to
        commit comes. (Waking every waiter on every commit made each of them take the lock and the interpreter
        again only to wait once more.)"""
        if not rows:
            return
        pending = _Pending(self._dataset_id(dataset_arn, create=True), rows)
        with self._lock:
            self._queue.append(pending)
            leading, self._writing = not self._writing, True
        if not leading:
            pending.wake.wait()
        if not pending.done:  # this caller's turn: its rows are still queued, with every later caller's
            with self._lock:
                batch, self._queue = self._queue, []
            self._commit(batch)
            with self._lock:  # hand the turn to the first caller queued meanwhile, or end it
                if self._queue:
                    self._queue[0].wake.set()
                else:
                    self._writing = False
        if pending.error is not None:
            raise pending.error

    def _commit(self, batch: list[_Pending]) -> None:
        error: BaseException | None = None
        try:
            now = time.time()
            values = [_values(p.dataset, row, now) for p in batch for row in p.rows]
            self._write(values)
        except BaseException as exc:  # every appender of the batch sees the failure (no 200 is sent)
            error = exc
        finally:
            for pending in batch:
                pending.error, pending.done = error, True
                pending.wake.set()

    def _write(self, values: list[dict[str, Any]]) -> None:
        """One transaction on the writer's own connection (only the current leader writes: no pool round trip)."""
        conn, self._writer = self._writer or self.engine.connect(), None
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text(f"SELECT pg_advisory_xact_lock({PG_APPEND_LOCK})"))
                conn.execute(insert(events), values)
                # SQLite's change counter tells this process's readers too; elsewhere they learn it here.
                newest = None if self._head.counted else conn.execute(select(func.max(events.c.seq))).scalar()
        except BaseException:
            conn.close()  # a broken connection is not reused
            raise
        self._writer = conn
        if newest is not None:
            self._head.advance(int(newest))

    # ---- reading ---------------------------------------------------------------------------------------------

    def head(self) -> int:
        """The newest committed sequence number (any dataset, any process); cheap enough for every request."""
        return self._head.get()

    def rows(self, dataset_arn: str, upto: int | None = None) -> list[dict[str, Any]]:
        """Every stored row as appended, bookkeeping keys included (for recovery checks and serving)."""
        return [orjson.loads(blob) for blob in self._blobs(dataset_arn, upto)]

    def since(self, dataset_arn: str, after: int) -> list[Entry]:
        """(seq, row) of the dataset's rows numbered after ``after``, in order."""
        found = self._dataset_id(dataset_arn)
        if found is None:
            return []
        with self.engine.connect() as conn:
            return [(int(seq), orjson.loads(blob)) for seq, blob in conn.execute(SINCE, {"d": found, "after": after})]

    def user_rows(self, dataset_arn: str, user_id: str, after: int, upto: int) -> list[Entry]:
        """(seq, row) of one user's rows numbered in (after, upto], in order (an indexed read)."""
        found = self._dataset_id(dataset_arn)
        if found is None or upto <= after:
            return []
        bounds = {"d": found, "user": user_id, "after": after, "upto": upto}
        with self.engine.connect() as conn:
            return [(int(seq), orjson.loads(blob)) for seq, blob in conn.execute(USER_ROWS, bounds)]

    def read(self, dataset_arn: str, schema: Schema, upto: int | None = None, *,
             duplicates: bool = False) -> pl.DataFrame | None:
        """All PUT rows of the dataset in append order (numbered up to ``upto``), typed per the schema; None when
        there are none.

        Later rows reusing an event id are dropped and exact duplicates are stored once (spec §10.1);
        the last copy of a duplicate is the one kept, so "latest row per id" stays the newest upsert.
        ``duplicates`` keeps exact duplicates with distinct event ids, as serving's per-user tails do (a node
        that read its snapshot after the events must answer as one that followed them).
        """
        frame = self.columns(dataset_arn, {f.name: POLARS_TYPES[f.type] for f in schema.fields}, upto)
        if frame is None:
            return None
        if not duplicates:
            frame = frame.unique(keep="last", maintain_order=True)
        return frame if frame.height else None

    def columns(self, dataset_arn: str, columns: dict[str, Any], upto: int | None = None) -> pl.DataFrame | None:
        """The named columns (bookkeeping keys such as ``$sid`` too) of every row in append order, rows that
        reuse an earlier event id dropped; None when the log is empty."""
        blobs = self._blobs(dataset_arn, upto)
        if not blobs:
            return None
        frame = pl.read_ndjson(b"\n".join(blobs), schema={**columns, EVENT_ID: pl.Utf8})
        first_use = frame[EVENT_ID].is_null() | frame[EVENT_ID].is_first_distinct()
        return frame.filter(first_use).drop(EVENT_ID)

    def newest(self, dataset_arn: str) -> int:
        """The sequence number of the dataset's newest row (0 when it has none): an indexed read."""
        found = self._dataset_id(dataset_arn)
        if found is None:
            return 0
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(events.c.seq)).where(events.c.dataset == found)).scalar() or 0)

    def changed_at(self, dataset_arn: str) -> float:
        """When the dataset's newest row was appended (epoch seconds; 0 when it has none)."""
        found = self._dataset_id(dataset_arn)
        if found is None:
            return 0.0
        query = select(events.c.at).where(events.c.dataset == found).order_by(events.c.seq.desc()).limit(1)
        with self.engine.connect() as conn:
            return float(conn.execute(query).scalar() or 0.0)

    def _blobs(self, dataset_arn: str, upto: int | None) -> list[bytes]:
        found = self._dataset_id(dataset_arn)
        if found is None:
            return []
        query = select(events.c.row).where(events.c.dataset == found)
        if upto is not None:
            query = query.where(events.c.seq <= upto)
        with self.engine.connect() as conn:
            return [bytes(blob) for blob in conn.execute(query.order_by(events.c.seq)).scalars()]

    # ---- removing --------------------------------------------------------------------------------------------

    def delete_users(self, dataset_arn: str, user_ids: set[str]) -> int:
        """Remove every row whose USER_ID is one of ``user_ids``, in one transaction; returns the number removed."""
        found = self._dataset_id(dataset_arn)
        if not user_ids or found is None:
            return 0
        ordered = sorted(user_ids)
        removed = 0
        with self.engine.begin() as conn:
            for start in range(0, len(ordered), DELETE_CHUNK):
                chunk = ordered[start:start + DELETE_CHUNK]
                removed += conn.execute(delete(events).where(events.c.dataset == found, events.c.user_id.in_(chunk))).rowcount
        return removed

    def drop(self, dataset_arn: str) -> None:
        """Forget a deleted dataset's rows, so a dataset re-created under the same ARN starts empty."""
        found = self._dataset_id(dataset_arn)
        if found is not None:
            with self.engine.begin() as conn:
                conn.execute(delete(events).where(events.c.dataset == found))

    def close(self) -> None:
        self._head.close()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.engine.dispose()

    # ---- datasets --------------------------------------------------------------------------------------------

    def _dataset_id(self, dataset_arn: str, create: bool = False) -> int | None:
        """The dataset's number in ``events`` (numbers are never reused or moved, so they are cached)."""
        found = self._ids.get(dataset_arn)
        if found is not None:
            return found
        with self._ids_lock:
            found = self._lookup(dataset_arn)
            if found is None and create:
                try:
                    with self.engine.begin() as conn:
                        conn.execute(insert(datasets).values(arn=dataset_arn))
                except IntegrityError:  # another process added it first
                    pass
                found = self._lookup(dataset_arn)
            if found is not None:
                self._ids[dataset_arn] = found
            return found

    def _lookup(self, dataset_arn: str) -> int | None:
        with self.engine.connect() as conn:
            found = conn.execute(select(datasets.c.id).where(datasets.c.arn == dataset_arn)).scalar()
        return None if found is None else int(found)

    # ---- moving old JSON-lines logs in -----------------------------------------------------------------------

    def _migrate_json_lines(self) -> None:
        """Each ``<root>/<region>/<account>/<resource path>.jsonl`` of an older version becomes table rows."""
        for path in sorted(self.root.rglob("*.jsonl")):
            arn = _arn_of(path.relative_to(self.root))
            if arn is None:
                continue
            name = path.relative_to(self.root).as_posix()
            rows = [orjson.loads(line) for line in complete_lines(path.read_bytes()).splitlines() if line.strip()]
            dataset = self._dataset_id(arn, create=True)
            assert dataset is not None
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(migrated).values(name=name))
                    _insert_rows(conn, dataset, rows)
            except IntegrityError:  # moved already (by another process, or before a crash)
                pass
            for leftover in (path, path.with_name(path.name + ".lock"), path.with_name(path.name + ".rewrite")):
                leftover.unlink(missing_ok=True)
            fsync_dir(path.parent)


def _insert_rows(conn: Connection, dataset: int, rows: Iterable[dict[str, Any]]) -> None:
    now = time.time()
    values = [_values(dataset, row, now) for row in rows]
    if values:
        conn.execute(insert(events), values)


def _values(dataset: int, row: dict[str, Any], now: float) -> dict[str, Any]:
    user = row.get("USER_ID")
    return {"dataset": dataset, "user_id": None if user is None else str(user), "at": now, "row": orjson.dumps(row)}


def _arn_of(relative: Path) -> str | None:
    """The dataset ARN an older version's log file was named after (``region/account/dataset/…/TYPE.jsonl``)."""
    parts = relative.with_suffix("").parts
    if len(parts) < 4 or parts[2] != "dataset":
        return None
    region, account = ("" if p == "-" else p for p in parts[:2])
    return f"arn:aws:personalize:{region}:{account}:{'/'.join(parts[2:])}"
