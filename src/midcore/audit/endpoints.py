from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime
from sqlalchemy import select

from midcore.audit.models import AuditEvent
from midcore.audit.schemas import AuditEventRead
from midcore.auth.dependencies import AuditRead
from midcore.deps import DbSession
from midcore.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, fetch_page

router = APIRouter(prefix="/api/v1/audit", tags=["access"])


@router.get("")
async def list_audit_events(
    principal: AuditRead,
    session: DbSession,
    action: str | None = None,
    actor: str | None = None,
    outcome: Literal["success", "denied", "unauthenticated", "failure"] | None = None,
    since: AwareDatetime | None = Query(None, description="Only events at or after this time."),
    until: AwareDatetime | None = Query(None, description="Only events before this time."),
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Page[AuditEventRead]:
    statement = select(AuditEvent).where(AuditEvent.tenant_id == principal.tenant_id)
    if action:
        statement = statement.where(AuditEvent.action == action)
    if actor:
        statement = statement.where(AuditEvent.actor == actor)
    if outcome:
        statement = statement.where(AuditEvent.outcome == outcome)
    if since:
        statement = statement.where(AuditEvent.created_at >= since)
    if until:
        statement = statement.where(AuditEvent.created_at < until)
    rows, next_cursor = await fetch_page(session, statement, AuditEvent.id, cursor, limit)
    return Page(items=[AuditEventRead.model_validate(r) for r in rows], next_cursor=next_cursor)
