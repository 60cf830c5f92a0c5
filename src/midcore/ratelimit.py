"""Fixed-window rate limits counted in the database, so that every API process shares them.

A counter row per (bucket, window) is incremented with one upsert; the window it falls in says
when it resets, which is what `Retry-After` reports.
"""

from __future__ import annotations

import math
import time
from datetime import datetime

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


async def hit(database: Database, bucket: str, limit: int, window_seconds: int) -> None:
    """Count one request in `bucket`; raise RateLimited (429) past `limit` in the current window.

    The count commits in its own transaction: a refused or failed request still counts.
    """
    if limit <= 0:
        return
    now = time.time()
    window = int(now // window_seconds)
    resets_at = (window + 1) * window_seconds
    key = f"{bucket}:{window}"
    insert = postgresql.insert if database.engine.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(RateLimitCounter)
        .values(key=key, count=1, expires_at=datetime.fromtimestamp(resets_at, utcnow().tzinfo))
        .on_conflict_do_update(
            index_elements=[RateLimitCounter.key], set_={"count": RateLimitCounter.count + 1}
        )
        .returning(RateLimitCounter.count)
    )
    async with database.session() as session:
        count = int((await session.execute(statement)).scalar_one())
        if count == 1:
            # A new window began: forget the ones that have ended, so the table stays small.
            await session.execute(
                delete(RateLimitCounter).where(RateLimitCounter.expires_at < utcnow())
            )
    if count > limit:
        retry_after = max(1, math.ceil(resets_at - now))
        raise RateLimited(
            f"more than {limit} requests in {window_seconds} s; retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )
