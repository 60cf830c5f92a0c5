from __future__ import annotations

from fastapi import APIRouter, Query, Response

from midcore.audit.service import record
from midcore.auth import sessions
from midcore.auth.dependencies import MembersManage, TenantSettings
from midcore.auth.schemas import SessionsRevoked
from midcore.deps import DbSession
from midcore.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, fetch_page
from midcore.tenants import service
from midcore.tenants.models import Membership
from midcore.tenants.repository import MemberRepository
from midcore.tenants.schemas import Member, MemberCreate, MemberUpdate, TenantSso, TenantSsoUpdate

router = APIRouter(prefix="/api/v1/members", tags=["access"])


@router.get("")
async def list_members(
    principal: MembersManage,
    session: DbSession,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Page[Member]:
    rows, next_cursor = await fetch_page(
        session, MemberRepository(session).readable(principal), Membership.id, cursor, limit
    )
    return Page(items=[service.member_from_row(row) for row in rows], next_cursor=next_cursor)


@router.post("", status_code=201)
async def add_member(body: MemberCreate, principal: MembersManage, session: DbSession) -> Member:
    member = await service.add_member(session, principal, body.email, body.name, body.role)
    record(
        session,
        principal,
        "member.add",
        target_type="user",
        target_id=member.user_id,
        details={"email": member.email, "role": member.role.value},
    )
    return member


@router.patch("/{user_id}")
async def change_member_role(
    user_id: str, body: MemberUpdate, principal: MembersManage, session: DbSession
) -> Member:
    member, previous = await service.change_role(session, principal, user_id, body.role)
    record(
        session,
        principal,
        "member.change_role",
        target_type="user",
        target_id=user_id,
        details={"from": previous.value, "to": body.role.value},
    )
    return member


@router.delete("/{user_id}", status_code=204)
async def remove_member(user_id: str, principal: MembersManage, session: DbSession) -> Response:
    member = await service.remove_member(session, principal, user_id)
    record(
        session,
        principal,
        "member.remove",
        target_type="user",
        target_id=user_id,
        details={"email": member.email, "role": member.role.value},
    )
    return Response(status_code=204)


@router.delete("/{user_id}/sessions")
async def revoke_member_sessions(
    user_id: str, principal: MembersManage, session: DbSession
) -> SessionsRevoked:
    """Sign a member out everywhere (every browser session of theirs ends)."""
    member = await service.get_member(session, principal, user_id)
    # An admin cannot sign out an owner, as they cannot remove one.
    service.check_may_grant(principal, member.role)
    count = await sessions.revoke_user_sessions(session, user_id)
    record(
        session,
        principal,
        "member.sessions_revoke",
        target_type="user",
        target_id=user_id,
        details={"revoked": count},
    )
    return SessionsRevoked(revoked=count)


sso_router = APIRouter(prefix="/api/v1/tenant/sso", tags=["access"])


@sso_router.get("")
async def read_sso(principal: TenantSettings, session: DbSession) -> TenantSso:
    """The tenant's SSO configuration (the client secret is never shown)."""
    return await service.read_sso(session, principal)


@sso_router.put("")
async def put_sso(
    body: TenantSsoUpdate, principal: TenantSettings, session: DbSession
) -> TenantSso:
    """Create or replace the tenant's SSO configuration; an omitted secret keeps the old one."""
    config = await service.put_sso(session, principal, body)
    details = body.model_dump(mode="json", exclude={"client_secret"})
    record(session, principal, "tenant.sso_update", target_type="tenant", details=details)
    return config


@sso_router.delete("", status_code=204)
async def delete_sso(principal: TenantSettings, session: DbSession) -> Response:
    """Turn SSO off for the tenant; existing sessions stay until they end."""
    await service.delete_sso(session, principal)
    record(session, principal, "tenant.sso_delete", target_type="tenant")
    return Response(status_code=204)
