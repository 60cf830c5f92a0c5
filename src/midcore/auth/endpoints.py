from __future__ import annotations

from fastapi import APIRouter, Query

from midcore.audit.service import record
from midcore.auth.dependencies import ApiKeysManage, SelfRead
from midcore.auth.models import ApiKey
from midcore.auth.repository import ApiKeyRepository
from midcore.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, Me, TenantRead
from midcore.auth.service import create_key_for, revoke_key
from midcore.deps import DbSession
from midcore.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, fetch_page
from midcore.tenants.repository import TenantRepository

router = APIRouter(prefix="/api/v1", tags=["access"])


@router.get("/auth/me")
async def read_me(principal: SelfRead, session: DbSession) -> Me:
    tenant = await TenantRepository(session).get_current(principal)
    return Me(
        tenant=TenantRead.model_validate(tenant),
        role=principal.role,
        actor=principal.actor,
        user_id=principal.user_id,
        api_key_id=principal.api_key_id,
        permissions=sorted(p.value for p in principal.permissions),
    )


@router.post("/api-keys", status_code=201)
async def create_api_key(
    body: ApiKeyCreate, principal: ApiKeysManage, session: DbSession
) -> ApiKeyCreated:
    api_key, plaintext = await create_key_for(
        session, principal, name=body.name, role=body.role, expires_at=body.expires_at
    )
    record(
        session,
        principal,
        "api_key.create",
        target_type="api_key",
        target_id=api_key.id,
        details={"name": body.name, "role": body.role.value},
    )
    return ApiKeyCreated(**ApiKeyRead.model_validate(api_key).model_dump(), key=plaintext)


@router.get("/api-keys")
async def list_api_keys(
    principal: ApiKeysManage,
    session: DbSession,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Page[ApiKeyRead]:
    rows, next_cursor = await fetch_page(
        session, ApiKeyRepository(session).readable(principal), ApiKey.id, cursor, limit
    )
    return Page(items=[ApiKeyRead.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.delete("/api-keys/{key_id}")
async def revoke_api_key(key_id: str, principal: ApiKeysManage, session: DbSession) -> ApiKeyRead:
    """Revoke a key; revoking it again changes nothing and answers the same."""
    api_key, revoked_now = await revoke_key(session, principal, key_id)
    if revoked_now:
        record(session, principal, "api_key.revoke", target_type="api_key", target_id=key_id)
    return ApiKeyRead.model_validate(api_key)
