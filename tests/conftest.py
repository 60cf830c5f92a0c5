"""Shared fixtures: every database test runs on SQLite and on PostgreSQL, each on a clean schema."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from midcore import migrations
from midcore.app import create_app
from midcore.auth.roles import Role
from midcore.auth.service import create_key
from midcore.config import Settings
from midcore.db import Base, Database
from midcore.tenants.service import create_tenant

T = TypeVar("T")
IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get(
    "MIDCORE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


def service_available(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip outside CI when a service is missing; in CI a missing service is a failure."""
    if service_available(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if IN_CI:
        pytest.fail(message + " (CI=true: services are mandatory)")
    pytest.skip(message)


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end from sync code, even when a loop is running in this thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _migrate(url: str) -> None:
    async def run() -> None:
        database = Database(url)
        try:
            await migrations.upgrade(database.engine)
        finally:
            await database.dispose()

    run_blocking(run())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "midcore.db"
    _migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"midcore_test_{os.getpid()}"
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]

    async def admin(statement: str) -> None:
        database = Database(POSTGRES_ADMIN_URL)
        try:
            async with database.engine.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text(statement))
        finally:
            await database.dispose()

    run_blocking(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    run_blocking(admin(f'CREATE DATABASE "{name}"'))
    url = f"{base}/{name}"
    _migrate(url)
    yield url
    run_blocking(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate_all(url: str) -> None:
    database = Database(url)
    try:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        async with database.engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await database.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database: a copy of the SQLite template, or PostgreSQL truncated."""
    if request.param == "sqlite":
        path = tmp_path / "midcore.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        await _truncate_all(url)
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        bootstrap=False,
        auto_migrate=False,
        workspace_roots=[tmp_path / "workspaces"],
    )


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.resolved_database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app
        # Let runs a test started finish on their own rather than be cut off at shutdown.
        tasks = app.state.dispatcher.tasks
        if tasks:
            await asyncio.wait(tasks, timeout=30)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://midcore.test") as client:
        yield client


@dataclass
class TenantKeys:
    """A tenant with one API key per role, to call the API as each of them."""

    tenant_id: str
    slug: str
    keys: dict[Role, str]
    key_ids: dict[Role, str]

    def headers(self, role: Role = Role.owner) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


async def make_tenant(database: Database, slug: str) -> TenantKeys:
    async with database.session() as session:
        tenant = await create_tenant(session, slug)
        keys, key_ids = {}, {}
        for role in Role:
            api_key, plaintext = await create_key(
                session, tenant_id=tenant.id, name=role.value, role=role, created_by="test"
            )
            keys[role], key_ids[role] = plaintext, api_key.id
        return TenantKeys(tenant.id, slug, keys, key_ids)


@pytest.fixture
async def tenant(app: FastAPI) -> TenantKeys:
    return await make_tenant(app.state.db, "acme")


@pytest.fixture
async def other_tenant(app: FastAPI) -> TenantKeys:
    return await make_tenant(app.state.db, "globex")


PASSWORD = "correct horse battery staple"


async def add_user(
    database: Database,
    email: str,
    memberships: dict[str, Role],
    password: str | None = PASSWORD,
) -> str:
    """A user with a password and a role in each tenant (by id); returns the user id."""
    from midcore.auth.passwords import hash_password
    from midcore.tenants.models import Membership, User

    async with database.session() as session:
        user = User(email=email, password_hash=hash_password(password, 8) if password else None)
        session.add(user)
        await session.flush()
        for tenant_id, role in memberships.items():
            session.add(Membership(tenant_id=tenant_id, user_id=user.id, role=role.value))
        return user.id


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, **extra: str
) -> str:
    """Sign `client` in (it keeps the cookie) and return the session's CSRF token."""
    response = await client.post(
        "/api/v1/auth/login", json={"email": email, "password": password, **extra}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    return token
