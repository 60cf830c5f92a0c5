"""Authentication and the permission check every endpoint goes through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from midcore.audit.service import record_denial
from midcore.auth import sessions
from midcore.auth.models import UserSession
from midcore.auth.principal import Principal
from midcore.auth.roles import Permission
from midcore.auth.service import KeyRejected, authenticate_key, touch_key
from midcore.config import Settings
from midcore.db import Database
from midcore.deps import DatabaseDep, DbSession, SettingsDep
from midcore.errors import AuthenticationRequired, PermissionDenied
from midcore.ratelimit import RateLimiter
from midcore.tenants.repository import TenantRepository


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _presented_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


def _action(request: Request) -> str:
    return f"{request.method} {request.url.path}"


async def _authenticate_key(
    request: Request, session: AsyncSession, database: Database, settings: Settings, plaintext: str
) -> Principal:
    try:
        principal = await authenticate_key(session, plaintext)
    except KeyRejected as exc:
        await record_denial(
            database,
            None,
            _action(request),
            outcome="unauthenticated",
            details={"reason": exc.detail},
            tenant_id=exc.tenant_id,
            actor=f"api_key:{exc.key_id}" if exc.key_id else "anonymous",
            client_ip=client_ip(request),
        )
        exc.headers = {"WWW-Authenticate": "Bearer"}
        raise
    assert principal.api_key_id is not None
    limiter: RateLimiter = request.app.state.rate_limiter
    await limiter.hit(f"api_key:{principal.api_key_id}", settings.rate_limit_per_api_key)
    await touch_key(database, principal.api_key_id)
    wanted = request.headers.get(sessions.TENANT_HEADER)
    if wanted:
        # A key is bound to its tenant: naming any other one is the same 404 as a missing tenant.
        tenant = await TenantRepository(session).get_current(principal)
        if wanted not in (tenant.slug, tenant.id):
            raise sessions.TenantNotFound(f"no tenant {wanted!r} for this API key")
    return principal


async def _session_from_cookie(
    request: Request, session: AsyncSession, database: Database, settings: Settings, token: str
) -> UserSession:
    """The live session behind the cookie, with the CSRF token checked on writes."""
    try:
        user_session = await sessions.resolve_session(session, token, settings)
    except sessions.SessionRejected as exc:
        await record_denial(
            database,
            None,
            _action(request),
            outcome="unauthenticated",
            details={"reason": exc.detail},
            tenant_id=exc.tenant_id,
            actor=f"user:{exc.user_id}" if exc.user_id else "anonymous",
            client_ip=client_ip(request),
        )
        raise
    if request.method not in sessions.SAFE_METHODS and not sessions.csrf_matches(
        user_session, request.headers.get(sessions.CSRF_HEADER)
    ):
        await record_denial(
            database,
            None,
            _action(request),
            outcome="denied",
            details={"reason": "CSRF token missing or wrong"},
            tenant_id=user_session.tenant_id,
            actor=f"user:{user_session.user_id}",
            client_ip=client_ip(request),
        )
        raise sessions.CsrfRejected(
            f"a write with a session cookie needs the {sessions.CSRF_HEADER} header "
            "(its value is in GET /api/v1/auth/me)"
        )
    await sessions.touch_session(database, user_session)
    return user_session


async def _unauthenticated(request: Request, database: Database) -> AuthenticationRequired:
    await record_denial(
        database,
        None,
        _action(request),
        outcome="unauthenticated",
        details={"reason": "no credentials"},
        client_ip=client_ip(request),
    )
    return AuthenticationRequired(
        "send an API key as 'Authorization: Bearer mc_...' or 'X-API-Key', or sign in",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def authenticate(
    request: Request, session: DbSession, database: DatabaseDep, settings: SettingsDep
) -> Principal:
    """API key first (bound to its tenant), then the session cookie (in the active tenant)."""
    plaintext = _presented_key(request)
    if plaintext is not None:
        principal = await _authenticate_key(request, session, database, settings, plaintext)
        # The error handler audits denials raised further in, in this caller's name.
        request.state.principal = principal
        return principal
    token = request.cookies.get(sessions.COOKIE_NAME)
    if token:
        user_session = await _session_from_cookie(request, session, database, settings, token)
        try:
            principal = await sessions.principal_for(
                session, user_session, request.headers.get(sessions.TENANT_HEADER)
            )
            request.state.principal = principal
            return principal
        except sessions.NoMembership as exc:
            await record_denial(
                database,
                None,
                _action(request),
                outcome="denied",
                details={"reason": exc.detail},
                tenant_id=user_session.tenant_id,
                actor=f"user:{user_session.user_id}",
                client_ip=client_ip(request),
            )
            raise
    raise await _unauthenticated(request, database)


async def current_user_session(
    request: Request, session: DbSession, database: DatabaseDep, settings: SettingsDep
) -> UserSession:
    """For what only a signed-in person can do (switch tenant, sign out): a cookie, not a key."""
    token = request.cookies.get(sessions.COOKIE_NAME)
    if not token or _presented_key(request) is not None:
        raise await _unauthenticated(request, database)
    return await _session_from_cookie(request, session, database, settings, token)


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]
CurrentUserSession = Annotated[UserSession, Depends(current_user_session)]


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets the request through only with `permission`; denials are audited."""

    async def _check(
        request: Request, principal: CurrentPrincipal, database: DatabaseDep
    ) -> Principal:
        if not principal.can(permission):
            await record_denial(
                database,
                principal,
                f"{request.method} {request.url.path}",
                outcome="denied",
                details={"required_permission": permission.value, "role": principal.role.value},
                client_ip=client_ip(request),
            )
            raise PermissionDenied(f"the role {principal.role} does not have {permission}")
        return principal

    return _check


SelfRead = Annotated[Principal, Depends(require(Permission.SELF_READ))]
ApiKeysManage = Annotated[Principal, Depends(require(Permission.API_KEYS_MANAGE))]
MembersManage = Annotated[Principal, Depends(require(Permission.MEMBERS_MANAGE))]
AuditRead = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]
TenantSettings = Annotated[Principal, Depends(require(Permission.TENANT_SETTINGS))]
