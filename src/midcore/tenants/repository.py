from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from midcore.auth.principal import Principal
from midcore.auth.roles import Role
from midcore.tenants.models import Membership, Tenant, User


class TenantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_current(self, principal: Principal) -> Tenant:
        tenant = await self.session.get(Tenant, principal.tenant_id)
        assert tenant is not None, "a principal always belongs to an existing tenant"
        return tenant

    async def get_by_slug(self, slug: str) -> Tenant | None:
        return await self.session.scalar(select(Tenant).where(Tenant.slug == slug))

    async def get_by_slug_or_id(self, slug_or_id: str) -> Tenant | None:
        return await self.session.scalar(
            select(Tenant).where((Tenant.slug == slug_or_id) | (Tenant.id == slug_or_id))
        )

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(Tenant)) or 0)


class MemberRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def readable(self, principal: Principal) -> Select[Membership, User]:
        return (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.tenant_id == principal.tenant_id)
        )

    async def get(self, principal: Principal, user_id: str) -> tuple[Membership, User] | None:
        statement = self.readable(principal).where(Membership.user_id == user_id)
        row = (await self.session.execute(statement)).first()
        return (row[0], row[1]) if row else None

    async def count_owners(self, tenant_id: str) -> int:
        statement = select(func.count()).where(
            Membership.tenant_id == tenant_id, Membership.role == Role.owner.value
        )
        return int(await self.session.scalar(statement) or 0)

    async def get_user_by_email(self, email: str) -> User | None:
        return await self.session.scalar(select(User).where(User.email == email))

    async def membership(self, user_id: str, tenant_id: str) -> Membership | None:
        """Unscoped on purpose: it is what decides which tenants a signed-in user may act in."""
        return await self.session.scalar(
            select(Membership).where(
                Membership.user_id == user_id, Membership.tenant_id == tenant_id
            )
        )

    async def tenants_of(self, user_id: str) -> list[tuple[Membership, Tenant]]:
        """The user's memberships, oldest first (the first is where a sign-in lands)."""
        statement = (
            select(Membership, Tenant)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(Membership.user_id == user_id)
            .order_by(Membership.id)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]
