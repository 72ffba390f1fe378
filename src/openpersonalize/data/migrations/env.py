"""Alembic's entry point: migrate the connection handed over by ``migrations.upgrade``, or, from the
``alembic`` command line, the database named by OPENPERSONALIZE_METADATA_URL."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from openpersonalize.data.metadata import metadata


def _migrate(connection: object) -> None:
    # Batch mode: SQLite alters a table by copying it, which later revisions need for most column changes.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


handed = context.config.attributes.get("connection")
if handed is not None:
    _migrate(handed)
else:
    with create_engine(os.environ["OPENPERSONALIZE_METADATA_URL"]).begin() as own:
        _migrate(own)
