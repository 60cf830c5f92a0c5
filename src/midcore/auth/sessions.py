"""Browser sessions: password sign-in, the session cookie, CSRF tokens, the active tenant.

The cookie carries 256 random bits; the database keeps their SHA-256 (as for API keys, there is
nothing to brute-force, so a fast hash is enough). Every request re-reads the membership, so a role
change or a removal takes effect on the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from midcore.auth.models import UserSession
from midcore.auth.passwords import hash_password, needs_rehash, verify_password
from midcore.auth.principal import Principal
from midcore.auth.roles import Role
from midcore.config import Settings
from midcore.db import Database, utcnow
from midcore.errors import AuthenticationRequired, InvalidCredentials, NotFound, PermissionDenied
from midcore.tenants.models import Membership, Tenant, User
from midcore.tenants.repository import MemberRepository, TenantRepository

COOKIE_NAME = "midcore_session"
CSRF_HEADER = "X-CSRF-Token"
TENANT_HEADER = "X-Midcore-Tenant"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Writing last_seen_at on every request would turn every read into a write.
LAST_SEEN_PRECISION = timedelta(minutes=1)


class SessionRejected(AuthenticationRequired):
    """Carries the session's tenant and user (when known) so the audit event lands there."""

    code = "session_invalid"
    title = "Session not valid"

    def __init__(self, detail: str, tenant_id: str | None = None, user_id: str | None = None):
        super().__init__(detail)
        self.tenant_id = tenant_id
        self.user_id = user_id


class CsrfRejected(PermissionDenied):
    code = "csrf_failed"
    title = "CSRF token missing or wrong"


class TenantNotFound(NotFound):
    code = "tenant_not_found"
    title = "Tenant not found"


class NoMembership(PermissionDenied):
    code = "no_membership"
    title = "Not a member of any tenant"


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_matches(user_session: UserSession, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(
        presented.encode(), user_session.csrf_token.encode()
    )


async def check_password(session: AsyncSession, email: str, password: str) -> User:
    """The user whose password this is; one message for every failure (it never says which)."""
    user = await MemberRepository(session).get_user_by_email(email.strip().lower())
    if not verify_password(password, user.password_hash if user else None):
        raise InvalidCredentials("the email or the password is wrong")
    assert user is not None
    return user


def upgrade_hash(user: User, password: str) -> None:
    """After a successful sign-in: re-hash with today's parameters if they changed."""
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password, min_length=0)


async def set_password(
    session: AsyncSession, email: str, password: str, settings: Settings
) -> User:
    """Set a user's password and end their sessions (a new password locks out old cookies)."""
    user = await MemberRepository(session).get_user_by_email(email.strip().lower())
    if user is None:
        raise NotFound(f"no user {email}")
    user.password_hash = hash_password(password, settings.password_min_length)
    await revoke_user_sessions(session, user.id)
    return user


async def landing_tenant(
    session: AsyncSession, user: User, wanted: str | None
) -> tuple[Tenant, Membership]:
    """The tenant a sign-in lands in: the one asked for, else the user's oldest membership."""
    if wanted:
        return await member_tenant(session, user.id, wanted)
    memberships = await MemberRepository(session).tenants_of(user.id)
    if not memberships:
        raise NoMembership("this user is not a member of any tenant")
    membership, tenant = memberships[0]
    return tenant, membership


async def member_tenant(
    session: AsyncSession, user_id: str, slug_or_id: str
) -> tuple[Tenant, Membership]:
    """A tenant of the user's; any other (existing or not) is the same 404."""
    tenant = await TenantRepository(session).get_by_slug_or_id(slug_or_id)
    membership = await MemberRepository(session).membership(user_id, tenant.id) if tenant else None
    if tenant is None or membership is None:
        raise TenantNotFound(f"no tenant {slug_or_id!r} among yours")
    return tenant, membership


async def start_session(
    session: AsyncSession,
    *,
    user_id: str,
    tenant_id: str,
    method: str,
    client_ip: str | None,
    settings: Settings,
) -> tuple[UserSession, str]:
    """A new session and the cookie value that proves it (shown to the browser only)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    user_session = UserSession(
        token_sha256=token_sha256(token),
        user_id=user_id,
        tenant_id=tenant_id,
        csrf_token=secrets.token_urlsafe(32),
        method=method,
        client_ip=client_ip,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=settings.session_absolute_seconds),
    )
    session.add(user_session)
    await session.flush()
    return user_session, token


async def resolve_session(session: AsyncSession, token: str, settings: Settings) -> UserSession:
    """The live session behind a cookie value, or SessionRejected saying why not."""
    user_session = await session.scalar(
        select(UserSession).where(UserSession.token_sha256 == token_sha256(token))
    )
    if user_session is None:
        raise SessionRejected("the session cookie is not valid; sign in again")
    now = utcnow()
    ids = user_session.tenant_id, user_session.user_id
    if user_session.revoked_at is not None:
        raise SessionRejected("the session has ended; sign in again", *ids)
    if now >= user_session.expires_at:
        raise SessionRejected("the session has expired; sign in again", *ids)
    if now - user_session.last_seen_at >= timedelta(seconds=settings.session_idle_seconds):
        raise SessionRejected("the session expired after inactivity; sign in again", *ids)
    return user_session


async def touch_session(database: Database, user_session: UserSession) -> None:
    """Record activity (what idle expiry counts from), in its own short transaction: the
    request's transaction stays free of writes so that denials can be recorded beside it."""
    now = utcnow()
    if now - user_session.last_seen_at < LAST_SEEN_PRECISION:
        return
    async with database.session() as session:
        await session.execute(
            update(UserSession).where(UserSession.id == user_session.id).values(last_seen_at=now)
        )


async def principal_for(
    session: AsyncSession, user_session: UserSession, wanted_tenant: str | None
) -> Principal:
    """The caller in the tenant the request names (header), else in the session's active tenant."""
    if wanted_tenant:
        _tenant, membership = await member_tenant(session, user_session.user_id, wanted_tenant)
    else:
        found = await MemberRepository(session).membership(
            user_session.user_id, user_session.tenant_id
        )
        if found is None:
            raise NoMembership(
                "you are no longer a member of this session's tenant; switch to another one"
            )
        membership = found
    return Principal(
        tenant_id=membership.tenant_id,
        role=Role(membership.role),
        actor=f"user:{user_session.user_id}",
        user_id=user_session.user_id,
        session_id=user_session.id,
    )


async def end_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def revoke_user_sessions(session: AsyncSession, user_id: str) -> int:
    """End every live session of a user; returns how many there were."""
    result = await session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
