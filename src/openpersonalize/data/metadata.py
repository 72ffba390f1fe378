"""The metadata store: every resource record and the job queue, in SQLAlchemy 2 (SQLite or PostgreSQL).

A resource record is its Describe body (camelCase keys, as on the wire) plus index columns
(kind, parent, status, name) copied out of it for queries. Writes are short transactions. The schema is
Alembic's (data/migrations/): opening a store upgrades its database to the newest revision.

The job queue is the ``jobs`` table, shared by every worker of a deployment. A claim is one statement
(``UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``: on PostgreSQL concurrent claimers skip
each other's rows; SQLite has one writer at a time), so a job is claimed exactly once. A claimed job is leased
to its worker (``claimed_by``) for as long as its heartbeats keep coming; a takeover, a heartbeat, a requeue and
the finish are conditional on the lease, so a worker that lost its job (it stalled past the lease and another
took over) can no longer change it.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
    update,
    delete,
)
from sqlalchemy.engine import Engine, make_url

from ..errors import ResourceAlreadyExistsException, ResourceNotFoundException
from . import migrations

log = logging.getLogger("openpersonalize.metadata")
# A database address that accepts the connection and never answers must not hang a start or a request forever.
CONNECT_SECONDS = 10
JOBS_CHANNEL = "openpersonalize_jobs"  # PostgreSQL NOTIFY channel of newly queued jobs
WRITE_LOCK_KEY = 0x6F70657772697465  # PostgreSQL advisory lock of Store.transaction (any constant of the deployment)

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
    Index("ix_jobs_claim", "state", "run_after"),
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


def _row_to_job(row: Any) -> Job:
    return Job(row.id, row.kind, row.arn, row.attempts, dict(row.payload), row.claimed_by)


def _held(job_id: int, worker_id: str | None) -> list[Any]:
    """The job, still held by ``worker_id`` (any holder when None)."""
    conditions = [jobs.c.id == job_id]
    if worker_id is not None:
        conditions += [jobs.c.claimed_by == worker_id, jobs.c.state == "running"]
    return conditions


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets a separate `openpersonalize worker` process read while the server writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """The engine of ``url``, its database migrated to the newest schema. A plain ``postgresql://`` URL uses
    psycopg 3 (SQLAlchemy's default PostgreSQL driver would be psycopg2, which is not installed)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    is_sqlite = parsed.get_backend_name() == "sqlite"
    engine = create_engine(
        parsed,
        json_serializer=lambda v: orjson.dumps(v).decode(),
        json_deserializer=orjson.loads,
        connect_args={"check_same_thread": False} if is_sqlite else {"connect_timeout": CONNECT_SECONDS},
        # A server-side restart or an idle timeout must not fail the next request on a stale pooled connection.
        pool_pre_ping=not is_sqlite,
    )
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    migrations.upgrade(engine)
    return engine


class Store:
    """Resource records and jobs. Thread-safe; one instance per process."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        # SQLite allows one writer at a time; serialise in-process writers instead of spinning on busy.
        self._write_lock = threading.RLock() if self.engine.dialect.name == "sqlite" else None
        self._holding = threading.local()  # PostgreSQL: this thread's depth of transactions holding the write lock

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction under the store's write lock: control checks and then writes in one (a quota
        count and the insert, a status test and the change), so writers of every process run one at a time.
        SQLite has one writer anyway (in-process, an RLock); PostgreSQL takes a transaction-scoped advisory lock,
        once per thread (a transaction opened inside another already holds it)."""
        if self._write_lock is not None:
            with self._write_lock, self.engine.begin() as conn:
                yield conn
            return
        depth = getattr(self._holding, "depth", 0)
        with self.engine.begin() as conn:
            if depth == 0:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})
            self._holding.depth = depth + 1
            try:
                yield conn
            finally:
                self._holding.depth = depth

    @contextmanager
    def _atomic(self) -> Iterator[Connection]:
        """A transaction of one self-contained statement (the job queue's): no write lock on PostgreSQL, where
        row locks make it safe and workers must not queue behind control's writes."""
        if self._write_lock is not None:
            with self._write_lock, self.engine.begin() as conn:
                yield conn
            return
        with self.engine.begin() as conn:
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

    def create_queued(self, record: Record, job_kind: str, check: Callable[[], None] = lambda: None) -> Record:
        """Insert a resource and queue the job that brings it to life, in one transaction: a crash between the
        two would leave a pending resource no job ever finishes. ``check`` (a quota: it counts, then raises) runs
        first under the same write lock, so concurrent creates cannot all pass it."""
        with self.transaction() as conn:
            check()
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
            if c.dialect.name == "postgresql" and delay <= 0:
                c.execute(text(f"NOTIFY {JOBS_CHANNEL}"))  # delivered at commit: idle workers elsewhere wake

    def wait_for_jobs(self, wake: Callable[[], None], stopped: threading.Event) -> None:
        """Call ``wake`` whenever a job is queued by any process, until ``stopped`` (PostgreSQL's LISTEN; on
        SQLite this returns at once and workers find jobs by polling, or by the in-process nudge)."""
        if self.engine.dialect.name != "postgresql":
            return
        while not stopped.is_set():
            try:
                raw = self.engine.raw_connection()
            except Exception:  # the database is away: poll until it is back
                log.warning("cannot listen for queued jobs; retrying", exc_info=True)
                stopped.wait(5.0)
                continue
            try:
                listener = raw.driver_connection
                listener.autocommit = True
                listener.execute(f"LISTEN {JOBS_CHANNEL}")
                while not stopped.is_set():
                    for _ in listener.notifies(timeout=1.0):
                        wake()
            except Exception:
                log.warning("listening for queued jobs failed; listening again", exc_info=True)
                stopped.wait(1.0)
            finally:
                raw.invalidate()  # never back to the pool in LISTEN mode

    def claim(self, worker_id: str) -> Job | None:
        """Take the oldest runnable job, leased to ``worker_id``; one statement, so two claimers never get the
        same job (see the module docstring)."""
        now = time.time()
        queued = jobs.alias("queued")  # the same table under another name: the subquery must not correlate
        oldest = (
            select(queued.c.id)
            .where(queued.c.state == "queued", queued.c.run_after <= now)
            .order_by(queued.c.run_after, queued.c.id)
            .limit(1)
        )
        if self.engine.dialect.name == "postgresql":
            oldest = oldest.with_for_update(skip_locked=True)
        statement = (
            update(jobs)
            .where(jobs.c.id == oldest.scalar_subquery(), jobs.c.state == "queued")
            .values(state="running", claimed_by=worker_id, heartbeat=now, attempts=jobs.c.attempts + 1)
            .returning(*jobs.c)
        )
        with self._atomic() as c:
            row = c.execute(statement).first()
        return None if row is None else _row_to_job(row)

    def heartbeat(self, job_id: int, worker_id: str | None = None) -> bool:
        """Renew the lease; False when ``worker_id`` no longer holds the job (it was taken over or ended)."""
        with self._atomic() as c:
            return bool(c.execute(
                update(jobs).where(*_held(job_id, worker_id)).values(heartbeat=time.time())
            ).rowcount)

    def finish(self, job_id: int, state: str = "done", worker_id: str | None = None) -> bool:
        with self._atomic() as c:
            return bool(c.execute(update(jobs).where(*_held(job_id, worker_id)).values(state=state)).rowcount)

    def stale_jobs(self, older_than: float) -> list[Job]:
        """Running jobs without a heartbeat for ``older_than`` seconds: their worker crashed, was killed, or
        is cut off from the database."""
        cutoff = time.time() - older_than
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(jobs).where(jobs.c.state == "running", jobs.c.heartbeat < cutoff)
            ).all()
        return [_row_to_job(r) for r in rows]

    def requeue(self, job_id: int, delay: float = 0.0, worker_id: str | None = None) -> bool:
        with self._atomic() as c:
            return bool(c.execute(
                update(jobs).where(*_held(job_id, worker_id))
                .values(state="queued", claimed_by=None, run_after=time.time() + delay)
            ).rowcount)

    def take_over(self, job: Job, state: str, stale_before: float | None = None) -> bool:
        """End the lease of a dead worker: the job is ``queued`` again or ``failed``. Only the first of several
        workers finding the same dead job wins (the job must still be running under the same claim and, with
        ``stale_before``, without a heartbeat since then)."""
        conditions = [jobs.c.id == job.id, jobs.c.state == "running", jobs.c.claimed_by == job.claimed_by]
        if stale_before is not None:
            conditions.append(jobs.c.heartbeat < stale_before)
        with self._atomic() as c:
            return bool(c.execute(
                update(jobs).where(*conditions).values(state=state, claimed_by=None, run_after=time.time())
            ).rowcount)

    @contextmanager
    def leader(self, name: str) -> Iterator[bool]:
        """Whether this process is the one doing ``name`` right now across every process sharing the store
        (a PostgreSQL advisory lock; on SQLite a lock on a file beside the database). Never waits."""
        if self.engine.dialect.name == "postgresql":
            key = zlib.crc32(name.encode())
            with self.engine.connect() as conn:
                held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
                conn.commit()
                try:
                    yield held
                finally:
                    if held:
                        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                        conn.commit()
            return
        database = self.engine.url.database
        if not database or database == ":memory:":
            yield True
            return
        with open(f"{database}.{name}-lock", "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def _maybe(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.transaction() as c:
                yield c
