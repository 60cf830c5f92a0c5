"""Alembic environment: runs on a connection handed in by midcore.migrations.upgrade."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import midcore.models  # noqa: F401  (registers every table on the metadata)
from midcore.db import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `midcore db upgrade`")
_run(connection)
