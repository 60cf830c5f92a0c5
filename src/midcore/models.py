"""Every ORM model, imported in one place so that metadata (and Alembic) sees all tables."""

from midcore.audit.models import AuditEvent
from midcore.auth.models import ApiKey, SsoLoginState, UserSession
from midcore.ratelimit import RateLimitCounter
from midcore.tenants.models import Membership, Tenant, TenantSso, User

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Membership",
    "RateLimitCounter",
    "SsoLoginState",
    "Tenant",
    "TenantSso",
    "User",
    "UserSession",
]
