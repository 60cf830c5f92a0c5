from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from midcore.auth.models import ApiKey
from midcore.auth.principal import Principal


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def readable(self, principal: Principal) -> Select[ApiKey]:
        return select(ApiKey).where(ApiKey.tenant_id == principal.tenant_id)

    async def get(self, principal: Principal, key_id: str) -> ApiKey | None:
        return await self.session.scalar(self.readable(principal).where(ApiKey.id == key_id))

    async def get_for_authentication(self, key_id: str) -> ApiKey | None:
        """The one unscoped lookup: the key itself says which tenant the caller is in."""
        api_key: ApiKey | None = await self.session.get(ApiKey, key_id)
        return api_key
