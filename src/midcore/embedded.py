"""The embedded database for commands that work without a server (`midcore run`, `gates run`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from midcore import migrations
from midcore.config import Settings
from midcore.db import Database


@asynccontextmanager
async def embedded_tenant(settings: Settings) -> AsyncIterator[tuple[Database, str]]:
    """The configured database, migrated, and the id of its default tenant (made if missing)."""
    from midcore.tenants.repository import TenantRepository
    from midcore.tenants.service import DEFAULT_TENANT_SLUG, create_tenant

    if settings.is_sqlite:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    database = Database(settings.resolved_database_url)
    try:
        await migrations.upgrade(database.engine)
        async with database.session() as session:
            tenant = await TenantRepository(session).get_by_slug(DEFAULT_TENANT_SLUG)
            if tenant is None:
                tenant = await create_tenant(session, DEFAULT_TENANT_SLUG, "Default")
            tenant_id = tenant.id
        yield database, tenant_id
    finally:
        await database.dispose()
