"""Migrations are reversible and give the same schema as the models, on both databases."""

from __future__ import annotations

from sqlalchemy import inspect

from midcore import migrations
from midcore.db import Base, Database


async def test_downgrade_to_base_and_upgrade_again(database: Database) -> None:
    await migrations.downgrade(database.engine, "base")
    async with database.engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert tables <= {"alembic_version"}
    await migrations.upgrade(database.engine)
    assert await migrations.current_revision(database.engine) == migrations.head_revision()
    async with database.engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


async def test_models_match_migrations(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    async with database.engine.connect() as connection:
        diff = await connection.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
        )
    assert diff == []
