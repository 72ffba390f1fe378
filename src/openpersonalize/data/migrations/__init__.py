"""The metadata schema's history (Alembic): every process brings its database to ``head`` when it opens it.

Revision 0001 is the schema of the first release, which created its tables without Alembic; such a database
(SQLite file or PostgreSQL) is stamped 0001 on first open and upgraded from there. Two processes starting at
once on one database migrate one after the other: PostgreSQL holds an advisory lock for the transaction (its
DDL is transactional), SQLite an exclusive lock on a file beside the database.

A new revision: change ``data/metadata.py``, then ``alembic -c src/openpersonalize/data/migrations/alembic.ini
revision --autogenerate -m "what and why"`` with ``OPENPERSONALIZE_METADATA_URL`` naming a database at head;
tests/data/test_migrations.py fails while the tables in code and the migrations disagree.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import Engine

HERE = Path(__file__).resolve().parent
FIRST_RELEASE = "0001"
# Any constant shared by every process of a deployment: the key of PostgreSQL's migration lock.
ADVISORY_LOCK_KEY = 0x6F70656E70657273


def config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for this package; ``connection`` is the one env.py migrates."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def head() -> str:
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision (nothing to do, and no lock taken, when it is there)."""
    with engine.connect() as probe:
        if current(probe) == head():
            return
    with _migration_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        if current(conn) == head():
            return  # another process migrated while this one waited for the lock
        tables = set(inspect(conn).get_table_names())
        if "alembic_version" not in tables and "resources" in tables:
            command.stamp(config(conn), FIRST_RELEASE)  # created by the first release, before migrations
        command.upgrade(config(conn), "head")


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """SQLite's cross-process lock: a file beside the database (PostgreSQL locks inside the transaction)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
