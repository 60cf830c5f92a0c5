from __future__ import annotations

from dataclasses import dataclass, field

from midcore.auth.roles import ROLE_PERMISSIONS, Permission, Role


@dataclass(frozen=True)
class Principal:
    """Who is calling: always in exactly one tenant, with one role there."""

    tenant_id: str
    role: Role
    actor: str  # "api_key:<id>" or "user:<id>": what the audit trail records
    user_id: str | None = None
    api_key_id: str | None = None
    session_id: str | None = None  # set when a browser session cookie authenticated the call
    permissions: frozenset[Permission] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "permissions", ROLE_PERMISSIONS[self.role])

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions
