"""Fixed-window rate limits, counted where every API process sees the same numbers.

A counter per (bucket, window) is incremented once per request; the window it falls in says when
it resets, which is what `Retry-After` reports. Counters live in the database by default, or in
Redis when MIDCORE_RATE_LIMIT_REDIS_URL is set.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Integer, String, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from midcore.db import Base, Database, utcnow
from midcore.errors import RateLimited


class RateLimitCounter(Base):
    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime]


class Counter(Protocol):
    async def increment(self, key: str, expires_at: float) -> int:
        """Add one to `key` (which may be forgotten after `expires_at`); return the new count."""

    async def close(self) -> None: ...


class DatabaseCounter:
    """One upsert per request, in its own transaction: a refused or failed request still counts."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def increment(self, key: str, expires_at: float) -> int:
        is_postgresql = self.database.engine.dialect.name == "postgresql"
        insert = postgresql.insert if is_postgresql else sqlite.insert
        statement = (
            insert(RateLimitCounter)
            .values(key=key, count=1, expires_at=datetime.fromtimestamp(expires_at, UTC))
            .on_conflict_do_update(
                index_elements=[RateLimitCounter.key], set_={"count": RateLimitCounter.count + 1}
            )
            .returning(RateLimitCounter.count)
        )
        async with self.database.session() as session:
            count = int((await session.execute(statement)).scalar_one())
            if count == 1:
                # A new window began: forget the ones that have ended, so the table stays small.
                await session.execute(
                    delete(RateLimitCounter).where(RateLimitCounter.expires_at < utcnow())
                )
        return count

    async def close(self) -> None:
        return None


class RedisCounter:
    """INCR and EXPIREAT in one round trip; Redis forgets ended windows by itself."""

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis  # optional dependency: only when configured

        self.client = Redis.from_url(url)

    async def increment(self, key: str, expires_at: float) -> int:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(f"midcore:ratelimit:{key}")
            pipe.expireat(f"midcore:ratelimit:{key}", int(expires_at) + 1)
            count, _ = await pipe.execute()
        return int(count)

    async def close(self) -> None:
        await self.client.aclose()


class RateLimiter:
    def __init__(
        self, counter: Counter, window_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.counter = counter
        self.window_seconds = window_seconds
        self.clock = clock  # tests hold it still, so that no window ends in the middle

    async def hit(self, bucket: str, limit: int) -> None:
        """Count one request in `bucket`; raise RateLimited (429) past `limit` in this window."""
        if limit <= 0:
            return
        now = self.clock()
        window = int(now // self.window_seconds)
        resets_at = (window + 1) * self.window_seconds
        count = await self.counter.increment(f"{bucket}:{window}", resets_at)
        if count > limit:
            retry_after = max(1, math.ceil(resets_at - now))
            raise RateLimited(
                f"more than {limit} requests in {self.window_seconds} s; "
                f"retry after {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )

    async def close(self) -> None:
        await self.counter.close()
