"""The metadata store: every resource record and the job queue, in SQLAlchemy 2 (SQLite or PostgreSQL).

A resource record is its Describe body (camelCase keys, as on the wire) plus index columns
(kind, parent, status, name) copied out of it for queries. Writes are short transactions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
    delete,
)
from sqlalchemy.engine import Engine

from ..errors import ResourceAlreadyExistsException, ResourceNotFoundException

metadata = MetaData()

resources = Table(
    "resources",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("arn", String(512), nullable=False, unique=True),
    Column("kind", String(64), nullable=False, index=True),
    Column("name", String(256), nullable=False),
    Column("parent", String(512), index=True),
    Column("status", String(64)),
    Column("created", Float, nullable=False),
    Column("body", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("arn", String(512), nullable=False, index=True),
    Column("state", String(16), nullable=False, index=True),  # queued | running | done | failed
    Column("run_after", Float, nullable=False),
    Column("claimed_by", String(128)),
    Column("heartbeat", Float),
    Column("attempts", Integer, nullable=False, default=0),
    Column("payload", JSON, nullable=False),
)


@dataclass
class Record:
    """One resource: its wire body plus the columns used to find it."""

    arn: str
    kind: str
    name: str
    parent: str | None
    status: str | None
    created: float
    body: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)


def new_record(kind: str, arn: str, name: str, parent: str | None, body: dict[str, Any], tags: dict[str, str]) -> Record:
    """A record about to be created: its body stamped with creationDateTime and lastUpdatedDateTime (now)."""
    stamp = time.time()
    body = {**body, "creationDateTime": stamp, "lastUpdatedDateTime": stamp}
    return Record(arn=arn, kind=kind, name=name, parent=parent, status=body.get("status"), created=stamp, body=body, tags=tags)


@dataclass
class Job:
    id: int
    kind: str
    arn: str
    attempts: int
    payload: dict[str, Any]
    claimed_by: str | None = None


def _row_to_record(row: Any) -> Record:
    return Record(row.arn, row.kind, row.name, row.parent, row.status, row.created, dict(row.body), dict(row.tags))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets a separate `openpersonalize worker` process read while the server writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    is_sqlite = url.startswith("sqlite")
    engine = create_engine(
        url,
        json_serializer=lambda v: orjson.dumps(v).decode(),
        json_deserializer=orjson.loads,
        connect_args={"check_same_thread": False} if is_sqlite else {},
    )
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    metadata.create_all(engine)
    return engine


class Store:
    """Resource records and jobs. Thread-safe; one instance per process."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        # SQLite allows one writer at a time; serialise in-process writers instead of spinning on busy.
        self._write_lock = threading.RLock() if url.startswith("sqlite") else None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    # ---- resources -------------------------------------------------------------------------------

    def create(self, record: Record, conn: Connection | None = None) -> Record:
        """Insert a new resource; an existing ARN is ResourceAlreadyExistsException."""
        with self._maybe(conn) as c:
            if c.execute(select(resources.c.seq).where(resources.c.arn == record.arn)).first():
                raise ResourceAlreadyExistsException(f"A resource with ARN {record.arn} already exists.")
            c.execute(
                insert(resources).values(
                    arn=record.arn,
                    kind=record.kind,
                    name=record.name,
                    parent=record.parent,
                    status=record.status,
                    created=record.created,
                    body=record.body,
                    tags=record.tags,
                )
            )
        return record

    def create_queued(self, record: Record, job_kind: str) -> Record:
        """Insert a resource and queue the job that brings it to life, in one transaction: a crash between the
        two would leave a pending resource no job ever finishes."""
        with self.transaction() as conn:
            self.create(record, conn)
            self.enqueue(job_kind, record.arn, conn=conn)
        return record

    def get(self, arn: str, kind: str | None = None) -> Record | None:
        query = select(resources).where(resources.c.arn == arn)
        if kind is not None:
            query = query.where(resources.c.kind == kind)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _row_to_record(row) if row else None

    def require(self, arn: str, kind: str, label: str) -> Record:
        """The resource, or ResourceNotFoundException naming what was looked for."""
        record = self.get(arn, kind)
        if record is None:
            raise ResourceNotFoundException(f"Could not find {label} with ARN {arn}.")
        return record

    def update(self, arn: str, changes: dict[str, Any], conn: Connection | None = None) -> Record:
        """Merge ``changes`` into the body (None removes a key); refreshes lastUpdatedDateTime."""
        with self._maybe(conn) as c:
            row = c.execute(select(resources).where(resources.c.arn == arn)).first()
            if row is None:
                raise ResourceNotFoundException(f"Could not find resource with ARN {arn}.")
            record = _row_to_record(row)
            for key, value in changes.items():
                if value is None:
                    record.body.pop(key, None)
                else:
                    record.body[key] = value
            record.body["lastUpdatedDateTime"] = time.time()
            record.status = record.body.get("status", record.status)
            c.execute(
                update(resources)
                .where(resources.c.arn == arn)
                .values(body=record.body, status=record.status)
            )
        return record

    def update_if(self, arn: str, statuses: tuple[str, ...], changes: dict[str, Any]) -> Record | None:
        """Apply ``changes`` only if the status is still one of ``statuses`` (checked in the same transaction)."""
        with self.transaction() as c:
            row = c.execute(select(resources.c.status).where(resources.c.arn == arn)).first()
            if row is None or row.status not in statuses:
                return None
            return self.update(arn, changes, c)

    def set_tags(self, arn: str, tags: dict[str, str]) -> None:
        with self.transaction() as c:
            c.execute(update(resources).where(resources.c.arn == arn).values(tags=tags))

    def remove(self, arn: str, conn: Connection | None = None) -> None:
        with self._maybe(conn) as c:
            c.execute(delete(resources).where(resources.c.arn == arn))
            c.execute(delete(jobs).where(jobs.c.arn == arn, jobs.c.state == "queued"))

    def list(
        self, kind: str, parent: str | None = None, statuses: tuple[str, ...] | None = None
    ) -> list[Record]:
        """Resources of a kind, newest first (spec §1.8 impl. choice)."""
        query = select(resources).where(resources.c.kind == kind)
        if parent is not None:
            query = query.where(resources.c.parent == parent)
        if statuses is not None:
            query = query.where(resources.c.status.in_(statuses))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(resources.c.seq.desc())).all()
        return [_row_to_record(r) for r in rows]

    def count(self, kind: str, parent: str | None = None, statuses: tuple[str, ...] | None = None) -> int:
        query = select(func.count()).select_from(resources).where(resources.c.kind == kind)
        if parent is not None:
            query = query.where(resources.c.parent == parent)
        if statuses is not None:
            query = query.where(resources.c.status.in_(statuses))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # ---- jobs ------------------------------------------------------------------------------------

    def enqueue(
        self, kind: str, arn: str, payload: dict[str, Any] | None = None, delay: float = 0.0,
        conn: Connection | None = None,
    ) -> None:
        with self._maybe(conn) as c:
            c.execute(
                insert(jobs).values(
                    kind=kind, arn=arn, state="queued", run_after=time.time() + delay,
                    attempts=0, payload=payload or {},
                )
            )

    def claim(self, worker_id: str) -> Job | None:
        """Take the oldest runnable job. Two claimers never get the same job (state re-checked)."""
        now = time.time()
        with self.transaction() as c:
            query = (
                select(jobs.c.id)
                .where(jobs.c.state == "queued", jobs.c.run_after <= now)
                .order_by(jobs.c.run_after, jobs.c.id)
                .limit(1)
            )
            if c.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            job_id = c.execute(query).scalar()
            if job_id is None:
                return None
            claimed = c.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state == "queued")
                .values(state="running", claimed_by=worker_id, heartbeat=now, attempts=jobs.c.attempts + 1)
            ).rowcount
            if not claimed:
                return None
            row = c.execute(select(jobs).where(jobs.c.id == job_id)).one()
        return Job(row.id, row.kind, row.arn, row.attempts, dict(row.payload), row.claimed_by)

    def heartbeat(self, job_id: int) -> None:
        with self.transaction() as c:
            c.execute(update(jobs).where(jobs.c.id == job_id).values(heartbeat=time.time()))

    def finish(self, job_id: int, state: str = "done") -> None:
        with self.transaction() as c:
            c.execute(update(jobs).where(jobs.c.id == job_id).values(state=state))

    def stale_jobs(self, older_than: float) -> list[Job]:
        """Running jobs whose worker stopped heart-beating: it crashed or was killed."""
        cutoff = time.time() - older_than
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(jobs).where(jobs.c.state == "running", jobs.c.heartbeat < cutoff)
            ).all()
        return [Job(r.id, r.kind, r.arn, r.attempts, dict(r.payload), r.claimed_by) for r in rows]

    def requeue(self, job_id: int, delay: float = 0.0) -> None:
        with self.transaction() as c:
            c.execute(
                update(jobs).where(jobs.c.id == job_id).values(state="queued", claimed_by=None, run_after=time.time() + delay)
            )

    @contextmanager
    def _maybe(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.transaction() as c:
                yield c
