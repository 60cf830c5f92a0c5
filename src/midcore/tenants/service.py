"""Tenants and their members; the first start of an empty database."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from midcore.auth.models import ApiKey
from midcore.auth.principal import Principal
from midcore.auth.roles import Role
from midcore.auth.service import create_key
from midcore.db import utcnow
from midcore.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from midcore.tenants.models import Membership, Tenant, TenantSso, User
from midcore.tenants.repository import MemberRepository, TenantRepository
from midcore.tenants.schemas import Member, TenantSsoUpdate
from midcore.tenants.schemas import TenantSso as TenantSsoRead

DEFAULT_TENANT_SLUG = "default"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class MemberNotFound(NotFound):
    code = "member_not_found"
    title = "Member not found"


class LastOwner(Conflict):
    code = "last_owner"
    title = "A tenant needs an owner"


async def create_tenant(session: AsyncSession, slug: str, name: str | None = None) -> Tenant:
    if not _SLUG.match(slug):
        raise ValidationFailed(
            f"tenant slug {slug!r} must be lowercase letters, digits and dashes (at most 63)"
        )
    if await TenantRepository(session).get_by_slug(slug) is not None:
        raise Conflict(f"a tenant {slug!r} already exists")
    tenant = Tenant(slug=slug, name=name or slug)
    session.add(tenant)
    await session.flush()
    return tenant


async def create_tenant_with_owner_key(
    session: AsyncSession, slug: str, name: str | None = None
) -> tuple[Tenant, ApiKey, str]:
    tenant = await create_tenant(session, slug, name)
    api_key, plaintext = await create_key(
        session, tenant_id=tenant.id, name="owner", role=Role.owner, created_by="midcore admin"
    )
    return tenant, api_key, plaintext


async def bootstrap_if_empty(session: AsyncSession) -> str | None:
    """On an empty database, create the default tenant and an owner key; return that key."""
    if await TenantRepository(session).count() > 0:
        return None
    _tenant, _key, plaintext = await create_tenant_with_owner_key(
        session, DEFAULT_TENANT_SLUG, "Default"
    )
    return plaintext


def _member(membership: Membership, user: User) -> Member:
    return Member(
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=Role(membership.role),
        created_at=membership.created_at,
        updated_at=membership.updated_at,
    )


def check_may_grant(principal: Principal, role: Role) -> None:
    if not principal.role.includes(role):
        raise PermissionDenied(f"a {principal.role} cannot grant the role {role}")


async def add_member(
    session: AsyncSession, principal: Principal, email: str, name: str | None, role: Role
) -> Member:
    check_may_grant(principal, role)
    members = MemberRepository(session)
    email = email.lower()
    user = await members.get_user_by_email(email)
    if user is None:
        user = User(email=email, name=name)
        session.add(user)
        await session.flush()
    elif await members.get(principal, user.id) is not None:
        raise Conflict(f"{email} is already a member of this tenant")
    membership = Membership(tenant_id=principal.tenant_id, user_id=user.id, role=role.value)
    session.add(membership)
    await session.flush()
    return _member(membership, user)


async def _get_member(
    session: AsyncSession, principal: Principal, user_id: str
) -> tuple[Membership, User]:
    found = await MemberRepository(session).get(principal, user_id)
    if found is None:
        raise MemberNotFound(f"no member {user_id} in this tenant")
    return found


async def _check_keeps_an_owner(session: AsyncSession, membership: Membership) -> None:
    owners = MemberRepository(session).count_owners
    if membership.role == Role.owner.value and await owners(membership.tenant_id) <= 1:
        raise LastOwner("the tenant's last owner cannot be removed or demoted")


async def change_role(
    session: AsyncSession, principal: Principal, user_id: str, role: Role
) -> tuple[Member, Role]:
    """Change a member's role; returns the member and the role they had before."""
    membership, user = await _get_member(session, principal, user_id)
    previous = Role(membership.role)
    # Raising or lowering someone is only allowed within the caller's own reach.
    check_may_grant(principal, role)
    check_may_grant(principal, previous)
    if role != previous and previous is Role.owner:
        await _check_keeps_an_owner(session, membership)
    membership.role = role.value
    membership.updated_at = utcnow()
    await session.flush()
    return _member(membership, user), previous


async def remove_member(session: AsyncSession, principal: Principal, user_id: str) -> Member:
    membership, user = await _get_member(session, principal, user_id)
    check_may_grant(principal, Role(membership.role))
    await _check_keeps_an_owner(session, membership)
    removed = _member(membership, user)
    await session.delete(membership)
    await session.flush()
    return removed


async def get_member(session: AsyncSession, principal: Principal, user_id: str) -> Member:
    return _member(*await _get_member(session, principal, user_id))


def member_from_row(row: tuple[Membership, User]) -> Member:
    return _member(*row)


class SsoNotConfigured(NotFound):
    code = "sso_not_configured"
    title = "SSO not configured"


def _sso_read(tenant: Tenant, config: TenantSso) -> TenantSsoRead:
    return TenantSsoRead(
        issuer=config.issuer,
        client_id=config.client_id,
        has_client_secret=bool(config.client_secret),
        allowed_domains=list(config.allowed_domains),
        default_role=Role(config.default_role),
        is_jit_enabled=config.is_jit_enabled,
        login_url=f"/api/v1/auth/sso/login?tenant={tenant.slug}",
        updated_at=config.updated_at,
    )


async def read_sso(session: AsyncSession, principal: Principal) -> TenantSsoRead:
    tenant = await TenantRepository(session).get_current(principal)
    config = await session.get(TenantSso, principal.tenant_id)
    if config is None:
        raise SsoNotConfigured("this tenant has no SSO configuration")
    return _sso_read(tenant, config)


async def put_sso(
    session: AsyncSession, principal: Principal, update: TenantSsoUpdate
) -> TenantSsoRead:
    """Create or replace the tenant's SSO configuration (an omitted secret keeps the old one)."""
    check_may_grant(principal, update.default_role)
    tenant = await TenantRepository(session).get_current(principal)
    config = await session.get(TenantSso, principal.tenant_id)
    if config is None:
        config = TenantSso(tenant_id=principal.tenant_id)
        session.add(config)
    # A secret belongs to its client: a new client id without a secret clears the old one.
    if update.client_secret is not None or update.client_id != config.client_id:
        config.client_secret = update.client_secret
    config.issuer = update.issuer.rstrip("/") if update.issuer else None
    config.client_id = update.client_id
    config.allowed_domains = sorted({d.lower() for d in update.allowed_domains})
    config.default_role = update.default_role.value
    config.is_jit_enabled = update.is_jit_enabled
    config.updated_at = utcnow()
    await session.flush()
    return _sso_read(tenant, config)


async def delete_sso(session: AsyncSession, principal: Principal) -> None:
    config = await session.get(TenantSso, principal.tenant_id)
    if config is None:
        raise SsoNotConfigured("this tenant has no SSO configuration")
    await session.delete(config)
    await session.flush()
