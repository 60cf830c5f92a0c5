from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from midcore.auth.principal import Principal
from midcore.db import utcnow
from midcore.runs.models import Run, RunSession
from midcore.runs.states import ACTIVE, RunStatus


class RunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def readable(self, principal: Principal) -> Select[Run]:
        return select(Run).where(Run.tenant_id == principal.tenant_id)

    async def get(self, principal: Principal, run_id: str) -> Run | None:
        return await self.session.scalar(self.readable(principal).where(Run.id == run_id))

    async def get_session(self, principal: Principal, session_id: str) -> RunSession | None:
        return await self.session.scalar(
            select(RunSession).where(
                RunSession.tenant_id == principal.tenant_id, RunSession.id == session_id
            )
        )

    async def by_idempotency_key(self, principal: Principal, key: str) -> Run | None:
        return await self.session.scalar(self.readable(principal).where(Run.idempotency_key == key))


async def find_lost_runs(
    session: AsyncSession, stale_after_seconds: float, exclude: list[str]
) -> Sequence[Run]:
    """Active runs whose executor has not beaten for `stale_after_seconds` (in any tenant)."""
    cutoff = utcnow() - timedelta(seconds=stale_after_seconds)
    statement = select(Run).where(
        Run.status.in_([s.value for s in ACTIVE]),
        or_(Run.heartbeat_at.is_(None), Run.heartbeat_at < cutoff),
    )
    if exclude:
        statement = statement.where(Run.id.not_in(exclude))
    return (await session.scalars(statement)).all()


async def queued_run_ids(session: AsyncSession) -> list[str]:
    statement = select(Run.id).where(Run.status == RunStatus.queued.value).order_by(Run.id)
    return list((await session.scalars(statement)).all())
