"""Writing the audit trail: in the caller's transaction for changes, in its own for denials."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from midcore.audit.models import AuditEvent
from midcore.auth.principal import Principal
from midcore.db import Database
from midcore.middleware import current_request_id, mark_denial_recorded


def record(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
    tenant_id: str | None = None,
    actor: str | None = None,
    client_ip: str | None = None,
) -> AuditEvent:
    """Add an audit event to the session; it commits (or not) with the change it describes."""
    event = AuditEvent(
        tenant_id=principal.tenant_id if principal else tenant_id,
        actor=principal.actor if principal else (actor or "anonymous"),
        action=action,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        request_id=current_request_id(),
        client_ip=client_ip,
        details=details or {},
    )
    session.add(event)
    return event


async def record_denial(
    database: Database,
    principal: Principal | None,
    action: str,
    *,
    outcome: str,
    details: dict[str, Any] | None = None,
    tenant_id: str | None = None,
    actor: str | None = None,
    client_ip: str | None = None,
) -> None:
    """A denied request rolls its own transaction back, so its audit event commits separately."""
    mark_denial_recorded()
    async with database.session() as session:
        record(
            session,
            principal,
            action,
            outcome=outcome,
            details=details,
            tenant_id=tenant_id,
            actor=actor,
            client_ip=client_ip,
        )
