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
