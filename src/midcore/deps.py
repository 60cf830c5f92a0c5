"""FastAPI dependencies every domain shares: settings, database, one transaction per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from midcore.config import Settings
from midcore.db import Database
from midcore.ratelimit import RateLimiter


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Commits when the endpoint succeeds, rolls back when it raises."""
    async with get_database(request).session() as session:
        yield session


def get_rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


SettingsDep = Annotated[Settings, Depends(get_settings)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]
DatabaseDep = Annotated[Database, Depends(get_database)]
DbSession = Annotated[AsyncSession, Depends(get_session)]
