"""data/migrations: a database of the first release upgrades in place; the migrations build the tables in code."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from _postgres import store_url

from openpersonalize.data import migrations
from openpersonalize.data.metadata import Store, metadata

# What the first release's ``metadata.create_all`` wrote into a SQLite file, verbatim (before migrations existed).
FIRST_RELEASE_DDL = """
CREATE TABLE resources (
	seq INTEGER NOT NULL, arn VARCHAR(512) NOT NULL, kind VARCHAR(64) NOT NULL, name VARCHAR(256) NOT NULL,
	parent VARCHAR(512), status VARCHAR(64), created FLOAT NOT NULL, body JSON NOT NULL, tags JSON NOT NULL,
	PRIMARY KEY (seq), UNIQUE (arn)
);
CREATE INDEX ix_resources_kind ON resources (kind);
CREATE INDEX ix_resources_parent ON resources (parent);
CREATE TABLE jobs (
	id INTEGER NOT NULL, kind VARCHAR(64) NOT NULL, arn VARCHAR(512) NOT NULL, state VARCHAR(16) NOT NULL,
	run_after FLOAT NOT NULL, claimed_by VARCHAR(128), heartbeat FLOAT, attempts INTEGER NOT NULL,
	payload JSON NOT NULL, PRIMARY KEY (id)
);
CREATE INDEX ix_jobs_arn ON jobs (arn);
CREATE INDEX ix_jobs_state ON jobs (state);
INSERT INTO resources VALUES (1, 'arn:aws:personalize:us-east-1:123456789012:schema/old', 'schema', 'old', NULL,
	NULL, 1700000000.0, '{"schemaArn": "arn:aws:personalize:us-east-1:123456789012:schema/old", "name": "old"}',
	'{"team": "recs"}');
INSERT INTO jobs VALUES (1, 'train', 'arn:aws:personalize:us-east-1:123456789012:solution/s/1', 'queued', 0.0,
	NULL, NULL, 0, '{}');
"""


def test_a_first_release_sqlite_file_upgrades_keeping_its_records_and_jobs(tmp_path: Path) -> None:
    path = tmp_path / "metadata.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(FIRST_RELEASE_DDL)
    store = Store(f"sqlite:///{path}")
    with store.engine.connect() as conn:
        assert migrations.current(conn) == migrations.head() != migrations.FIRST_RELEASE
        assert "ix_jobs_claim" in {index["name"] for index in inspect(conn).get_indexes("jobs")}
    record = store.get("arn:aws:personalize:us-east-1:123456789012:schema/old", "schema")
    assert record is not None and record.body["name"] == "old" and record.tags == {"team": "recs"}
    job = store.claim("host:1:0")
    assert job is not None and job.kind == "train" and job.attempts == 1


def test_the_migrations_build_exactly_the_tables_in_code(tmp_path: Path) -> None:
    store = Store(store_url(tmp_path))
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_processes_opening_a_new_database_at_once_migrate_it_once(tmp_path: Path) -> None:
    url, errors = store_url(tmp_path), []

    def open_store() -> None:
        try:
            Store(url)
        except Exception as error:  # noqa: BLE001 - the assertion below names it
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with create_engine(Store(url).engine.url).connect() as conn:
        assert migrations.current(conn) == migrations.head()
