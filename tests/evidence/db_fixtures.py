"""A fresh database per test, on SQLite and on PostgreSQL (a throwaway database)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from midcore.db import Base, Database
from midcore.evidence import models  # noqa: F401  (registers the tables)

POSTGRES_ADMIN_URL = os.environ.get(
    "MIDCORE_TEST_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def _postgres_database() -> tuple[str, str] | None:
    name = f"midcore_evidence_{secrets.token_hex(6)}"
    try:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return name, f"{base}/{name}"


async def _drop_postgres_database(name: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    created: str | None = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'midcore.db'}"
    else:
        found = await _postgres_database()
        if found is None:
            pytest.skip("PostgreSQL is not reachable")
        created, url = found
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    try:
        yield database
    finally:
        await database.dispose()
        if created:
            await _drop_postgres_database(created)
