"""Roles and the permissions they grant: the one table that says who may do what."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"
    developer = "developer"
    admin = "admin"
    owner = "owner"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    def includes(self, other: Role) -> bool:
        return self.rank >= other.rank


_ORDER = [Role.viewer, Role.operator, Role.developer, Role.admin, Role.owner]


class Permission(StrEnum):
    SELF_READ = "self:read"
    RUNS_READ = "runs:read"
    EVENTS_READ = "events:read"
    GATES_READ = "gates:read"
    EVIDENCE_READ = "evidence:read"
    CAPACITY_READ = "capacity:read"
    WORKSPACES_READ = "workspaces:read"
    RUNS_WRITE = "runs:write"
    GATES_RUN = "gates:run"
    VOICE_TRANSCRIBE = "voice:transcribe"
    VIBE_WRITE = "vibe:write"
    MEMBERS_MANAGE = "members:manage"
    API_KEYS_MANAGE = "api_keys:manage"
    TENANT_SETTINGS = "tenant:settings"
    WORKSPACES_WRITE = "workspaces:write"
    EVIDENCE_EXPORT = "evidence:export"
    AUDIT_READ = "audit:read"
    TENANT_DELETE = "tenant:delete"


# What each role adds to the role below it.
_GRANTS: dict[Role, set[Permission]] = {
    Role.viewer: {
        Permission.SELF_READ,
        Permission.RUNS_READ,
        Permission.EVENTS_READ,
        Permission.GATES_READ,
        Permission.EVIDENCE_READ,
        Permission.CAPACITY_READ,
        Permission.WORKSPACES_READ,
    },
    Role.operator: {Permission.RUNS_WRITE, Permission.GATES_RUN, Permission.VOICE_TRANSCRIBE},
    Role.developer: {Permission.VIBE_WRITE},
    Role.admin: {
        Permission.MEMBERS_MANAGE,
        Permission.API_KEYS_MANAGE,
        Permission.TENANT_SETTINGS,
        Permission.WORKSPACES_WRITE,
        Permission.EVIDENCE_EXPORT,
        Permission.AUDIT_READ,
    },
    Role.owner: {Permission.TENANT_DELETE},
}


def _expand() -> dict[Role, frozenset[Permission]]:
    expanded: dict[Role, frozenset[Permission]] = {}
    granted: set[Permission] = set()
    for role in _ORDER:
        granted |= _GRANTS[role]
        expanded[role] = frozenset(granted)
    return expanded


ROLE_PERMISSIONS = _expand()
