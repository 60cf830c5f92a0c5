from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from midcore.audit.service import record, record_denial
from midcore.auth import oidc, sessions
from midcore.auth.dependencies import ApiKeysManage, CurrentUserSession, SelfRead, client_ip
from midcore.auth.models import ApiKey, UserSession
from midcore.auth.principal import Principal
from midcore.auth.repository import ApiKeyRepository
from midcore.auth.roles import Role
from midcore.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    LoginRequest,
    Me,
    SessionsRevoked,
    TenantRead,
    TenantSwitch,
)
from midcore.auth.service import create_key_for, revoke_key
from midcore.config import Settings
from midcore.deps import DatabaseDep, DbSession, RateLimiterDep, SettingsDep
from midcore.errors import MidcoreError
from midcore.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, fetch_page
from midcore.tenants.repository import MemberRepository, TenantRepository

router = APIRouter(prefix="/api/v1", tags=["access"])


async def _me(session: AsyncSession, principal: Principal) -> Me:
    tenant = await TenantRepository(session).get_current(principal)
    me = Me(
        tenant=TenantRead.model_validate(tenant),
        role=principal.role,
        actor=principal.actor,
        user_id=principal.user_id,
        api_key_id=principal.api_key_id,
        permissions=sorted(p.value for p in principal.permissions),
    )
    if principal.session_id and principal.user_id:
        user_session = await session.get(UserSession, principal.session_id)
        assert user_session is not None
        me.csrf_token = user_session.csrf_token
        me.session_expires_at = user_session.expires_at
        memberships = await MemberRepository(session).tenants_of(principal.user_id)
        me.tenants = [TenantRead.model_validate(t) for _m, t in memberships]
    return me


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        sessions.COOKIE_NAME,
        token,
        max_age=settings.session_absolute_seconds,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        sessions.COOKIE_NAME, path="/", secure=settings.cookie_secure, httponly=True, samesite="lax"
    )


def _session_principal(user_session: UserSession, role: Role) -> Principal:
    return Principal(
        tenant_id=user_session.tenant_id,
        role=role,
        actor=f"user:{user_session.user_id}",
        user_id=user_session.user_id,
        session_id=user_session.id,
    )


@router.get("/auth/me")
async def read_me(principal: SelfRead, session: DbSession) -> Me:
    """Who is calling; with a session cookie, also the CSRF token and the user's tenants."""
    return await _me(session, principal)


@router.post("/auth/login", responses={401: {}, 429: {}})
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    session: DbSession,
    database: DatabaseDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
) -> Me:
    """Sign in with email and password: sets the session cookie; the body has the CSRF token."""
    ip = client_ip(request)
    await limiter.hit(f"sign_in:{ip}", settings.rate_limit_sign_in_per_ip)
    try:
        user = await sessions.check_password(session, body.email, body.password)
        tenant, membership = await sessions.landing_tenant(session, user, body.tenant)
    except MidcoreError as exc:
        # The same lookup happens for known and unknown emails; the event lands in the user's
        # first tenant (if any) so that its admins see attempts on their people.
        known = await MemberRepository(session).get_user_by_email(body.email.strip().lower())
        memberships = await MemberRepository(session).tenants_of(known.id) if known else []
        await record_denial(
            database,
            None,
            "auth.login",
            outcome="failure",
            details={"email": body.email.strip().lower(), "reason": exc.detail},
            tenant_id=memberships[0][0].tenant_id if memberships else None,
            client_ip=ip,
        )
        raise
    sessions.upgrade_hash(user, body.password)
    user_session, token = await sessions.start_session(
        session,
        user_id=user.id,
        tenant_id=tenant.id,
        method="password",
        client_ip=ip,
        settings=settings,
    )
    principal = _session_principal(user_session, Role(membership.role))
    record(
        session,
        principal,
        "auth.login",
        target_type="session",
        target_id=user_session.id,
        details={"method": "password"},
        client_ip=ip,
    )
    set_session_cookie(response, token, settings)
    return await _me(session, principal)


@router.post("/auth/logout", status_code=204)
async def logout(
    request: Request, user_session: CurrentUserSession, session: DbSession, settings: SettingsDep
) -> Response:
    """End this browser session and clear its cookie."""
    await sessions.end_session(session, user_session.id)
    record(
        session,
        None,
        "auth.logout",
        target_type="session",
        target_id=user_session.id,
        tenant_id=user_session.tenant_id,
        actor=f"user:{user_session.user_id}",
        client_ip=client_ip(request),
    )
    response = Response(status_code=204)
    clear_session_cookie(response, settings)
    return response


@router.post("/auth/switch-tenant")
async def switch_tenant(
    body: TenantSwitch, request: Request, user_session: CurrentUserSession, session: DbSession
) -> Me:
    """Make another of the user's tenants the session's active one (404 for any other)."""
    tenant, membership = await sessions.member_tenant(session, user_session.user_id, body.tenant)
    previous = user_session.tenant_id
    user_session.tenant_id = tenant.id
    await session.flush()
    principal = _session_principal(user_session, Role(membership.role))
    record(
        session,
        principal,
        "auth.switch_tenant",
        target_type="tenant",
        target_id=tenant.id,
        details={"from": previous},
        client_ip=client_ip(request),
    )
    return await _me(session, principal)


@router.post("/auth/sessions/revoke-all")
async def revoke_my_sessions(
    request: Request,
    response: Response,
    user_session: CurrentUserSession,
    session: DbSession,
    settings: SettingsDep,
) -> SessionsRevoked:
    """Sign out everywhere: end every session of the signed-in user, this one included."""
    count = await sessions.revoke_user_sessions(session, user_session.user_id)
    record(
        session,
        None,
        "auth.sessions_revoke",
        target_type="user",
        target_id=user_session.user_id,
        tenant_id=user_session.tenant_id,
        actor=f"user:{user_session.user_id}",
        details={"revoked": count},
        client_ip=client_ip(request),
    )
    clear_session_cookie(response, settings)
    return SessionsRevoked(revoked=count)


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


def _redirect_uri(request: Request, settings: Settings) -> str:
    base = settings.public_url or str(request.base_url)
    return base.rstrip("/") + oidc.CALLBACK_PATH


@router.get(
    "/auth/sso/login",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "To the identity provider."}, 404: {}, 429: {}, 503: {}},
)
async def sso_login(
    request: Request,
    session: DbSession,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    tenant: str = Query(min_length=1, max_length=64, description="Slug of the tenant."),
) -> RedirectResponse:
    """Start signing in with the tenant's identity provider (a browser navigates here)."""
    # Password and SSO sign-in share one budget per client IP.
    await limiter.hit(f"sign_in:{client_ip(request)}", settings.rate_limit_sign_in_per_ip)
    url, state = await oidc.begin(session, tenant, _redirect_uri(request, settings), settings)
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        oidc.STATE_COOKIE,
        state,
        max_age=int(oidc.STATE_LIFETIME.total_seconds()),
        path="/api/v1/auth/sso",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get(
    "/auth/sso/callback",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "Signed in: on to the app."}, 401: {}, 403: {}, 503: {}},
)
async def sso_callback(
    request: Request,
    session: DbSession,
    database: DatabaseDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    code: str | None = Query(None, max_length=2048),
    state: str | None = Query(None, max_length=128),
    error: str | None = Query(None, max_length=200),
) -> RedirectResponse:
    """Where the identity provider sends the browser back; sets the session cookie."""
    ip = client_ip(request)
    await limiter.hit(f"sign_in:{ip}", settings.rate_limit_sign_in_per_ip)
    tenant_id: str | None = None
    try:
        pending = await oidc.take_pending(database, state, request.cookies.get(oidc.STATE_COOKIE))
        tenant_id = pending.tenant_id
        if error or not code:
            raise oidc.SsoFailed(f"the identity provider answered: {error or 'no code'}")
        signed_in = await oidc.complete(session, pending, code, settings)
    except MidcoreError as exc:
        await record_denial(
            database,
            None,
            "auth.sso_login",
            outcome="failure",
            details={"reason": exc.detail, "code": exc.code},
            tenant_id=tenant_id,
            client_ip=ip,
        )
        raise
    user_session, token = await sessions.start_session(
        session,
        user_id=signed_in.user.id,
        tenant_id=signed_in.membership.tenant_id,
        method="sso",
        client_ip=ip,
        settings=settings,
    )
    principal = _session_principal(user_session, Role(signed_in.membership.role))
    record(
        session,
        principal,
        "auth.sso_login",
        target_type="session",
        target_id=user_session.id,
        details={"issuer": signed_in.provider.issuer, "subject": signed_in.subject},
        client_ip=ip,
    )
    response = RedirectResponse(settings.sso_success_url, status_code=303)
    set_session_cookie(response, token, settings)
    response.delete_cookie(oidc.STATE_COOKIE, path="/api/v1/auth/sso")
    return response
