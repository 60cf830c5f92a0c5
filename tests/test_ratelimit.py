"""Rate limits are shared by every API process: counted in the database, or in Redis."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy import func, select

from midcore.app import create_app
from midcore.config import Settings
from midcore.db import Database
from midcore.errors import RateLimited
from midcore.ids import new_id
from midcore.ratelimit import (
    Counter,
    DatabaseCounter,
    RateLimitCounter,
    RateLimiter,
    RedisCounter,
)
from tests.conftest import make_tenant, require_service

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["database", "redis"])
async def make_counter(
    request: pytest.FixtureRequest, settings: object
) -> AsyncIterator[Callable[[], Counter]]:
    """Builds counters as separate API processes would: each with its own connections."""
    made: list[Counter] = []
    databases: list[Database] = []
    if request.param == "redis":
        require_service("Redis", "127.0.0.1", 6379)

    def make() -> Counter:
        counter: Counter
        if request.param == "redis":
            counter = RedisCounter(REDIS_URL)
        else:
            database = Database(settings.resolved_database_url)  # type: ignore[attr-defined]
            databases.append(database)
            counter = DatabaseCounter(database)
        made.append(counter)
        return counter

    yield make
    for counter in made:
        await counter.close()
    for database in databases:
        await database.dispose()


async def test_processes_share_one_count(make_counter: Callable[[], Counter]) -> None:
    now = time.time()
    first = RateLimiter(make_counter(), window_seconds=3600, clock=lambda: now)
    second = RateLimiter(make_counter(), window_seconds=3600, clock=lambda: now)
    bucket = f"test:{new_id()}"
    await first.hit(bucket, limit=3)
    await second.hit(bucket, limit=3)
    await first.hit(bucket, limit=3)
    with pytest.raises(RateLimited) as refused:
        await second.hit(bucket, limit=3)
    retry_after = int(refused.value.headers["Retry-After"])
    assert 1 <= retry_after <= 3600
    # Other buckets are not affected, and a limit of 0 means no limit.
    await first.hit(f"test:{new_id()}", limit=1)
    for _ in range(5):
        await first.hit(bucket, limit=0)


async def test_the_app_counts_in_redis_when_configured(settings: Settings) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    configured = settings.model_copy(
        update={"rate_limit_redis_url": REDIS_URL, "rate_limit_per_api_key": 2}
    )
    app = create_app(configured)
    async with app.router.lifespan_context(app):
        assert isinstance(app.state.rate_limiter.counter, RedisCounter)
        now = time.time()
        app.state.rate_limiter.clock = lambda: now
        tenant = await make_tenant(app.state.db, "acme")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            statuses = [
                (await client.get("/api/v1/auth/me", headers=tenant.headers())).status_code
                for _ in range(3)
            ]
        assert statuses == [200, 200, 429]
        async with app.state.db.session() as session:
            assert await session.scalar(select(func.count()).select_from(RateLimitCounter)) == 0
