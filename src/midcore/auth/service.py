"""API keys: create (shown once), check, revoke."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from midcore.auth import keys
from midcore.auth.models import ApiKey
from midcore.auth.principal import Principal
from midcore.auth.repository import ApiKeyRepository
from midcore.auth.roles import Role
from midcore.db import Database, utcnow
from midcore.errors import InvalidCredentials, NotFound, PermissionDenied, ValidationFailed

# Writing last_used_at on every request would turn every read into a write.
LAST_USED_PRECISION = timedelta(minutes=1)


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    title = "API key not found"


async def create_key(
    session: AsyncSession,
    *,
    tenant_id: str,
    name: str,
    role: Role,
    created_by: str | None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key and return it with its plaintext, which is never available again."""
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationFailed("expires_at must be in the future")
    key_id, plaintext, secret_sha256 = keys.generate()
    api_key = ApiKey(
        id=key_id,
        tenant_id=tenant_id,
        name=name,
        role=role.value,
        secret_sha256=secret_sha256,
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(api_key)
    await session.flush()
    return api_key, plaintext


async def create_key_for(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    role: Role,
    expires_at: datetime | None,
) -> tuple[ApiKey, str]:
    if not principal.role.includes(role):
        raise PermissionDenied(f"a {principal.role} cannot create a key with the role {role}")
    return await create_key(
        session,
        tenant_id=principal.tenant_id,
        name=name,
        role=role,
        created_by=principal.actor,
        expires_at=expires_at,
    )


class KeyRejected(InvalidCredentials):
    """Carries the key's tenant (when known) so that the audit event lands in that tenant."""

    def __init__(self, detail: str, tenant_id: str | None = None, key_id: str | None = None):
        super().__init__(detail)
        self.tenant_id = tenant_id
        self.key_id = key_id


async def authenticate_key(session: AsyncSession, plaintext: str) -> Principal:
    parsed = keys.parse(plaintext)
    if parsed is None:
        raise KeyRejected("the API key is malformed")
    api_key = await ApiKeyRepository(session).get_for_authentication(parsed.key_id)
    if api_key is None or not keys.secret_matches(parsed.secret, api_key.secret_sha256):
        raise KeyRejected("the API key is not valid")
    now = utcnow()
    if api_key.revoked_at is not None:
        raise KeyRejected("the API key has been revoked", api_key.tenant_id, api_key.id)
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise KeyRejected("the API key has expired", api_key.tenant_id, api_key.id)
    return Principal(
        tenant_id=api_key.tenant_id,
        role=Role(api_key.role),
        actor=f"api_key:{api_key.id}",
        api_key_id=api_key.id,
    )


async def touch_key(database: Database, key_id: str) -> None:
    """Record the key's use, in its own short transaction.

    The request's own transaction stays free of writes until the endpoint runs: on SQLite a
    pending write there would block the separate transactions that record denials.
    """
    now = utcnow()
    async with database.session() as session:
        await session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                or_(
                    ApiKey.last_used_at.is_(None),
                    ApiKey.last_used_at <= now - LAST_USED_PRECISION,
                ),
            )
            .values(last_used_at=now)
        )


async def revoke_key(
    session: AsyncSession, principal: Principal, key_id: str
) -> tuple[ApiKey, bool]:
    """Revoke a key; the flag says whether this call revoked it (False: it already was)."""
    api_key = await ApiKeyRepository(session).get(principal, key_id)
    if api_key is None:
        raise ApiKeyNotFound(f"no API key {key_id} in this tenant")
    if not principal.role.includes(Role(api_key.role)):
        raise PermissionDenied(
            f"a {principal.role} cannot revoke a key with the role {api_key.role}"
        )
    if api_key.revoked_at is not None:
        return api_key, False
    api_key.revoked_at = utcnow()
    return api_key, True
