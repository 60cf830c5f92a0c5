"""Every ORM model, imported in one place so that metadata (and Alembic) sees all tables."""

from midcore.audit.models import AuditEvent
from midcore.auth.models import ApiKey, SsoLoginState, UserSession
from midcore.evidence.models import (
    EvidenceCheckpoint,
    EvidenceEntry,
    EvidenceLogHead,
    EvidenceNode,
    EvidenceSigningKey,
)
from midcore.ratelimit import RateLimitCounter
from midcore.runs.models import Run, RunEvent, RunSession
from midcore.tenants.models import Membership, Tenant, TenantSso, User

__all__ = [
    "ApiKey",
    "AuditEvent",
    "EvidenceCheckpoint",
    "EvidenceEntry",
    "EvidenceLogHead",
    "EvidenceNode",
    "EvidenceSigningKey",
    "Membership",
    "RateLimitCounter",
    "Run",
    "RunEvent",
    "RunSession",
    "SsoLoginState",
    "Tenant",
    "TenantSso",
    "User",
    "UserSession",
]
