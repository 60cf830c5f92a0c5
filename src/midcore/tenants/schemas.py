from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from midcore.auth.roles import Role


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    name: str | None = Field(default=None, max_length=200)
    role: Role


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class Member(BaseModel):
    user_id: str
    email: str
    name: str | None
    role: Role
    created_at: datetime
    updated_at: datetime


_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"^{_LABEL}(\.{_LABEL})+$"


class TenantSsoUpdate(BaseModel):
    """A tenant's OpenID Connect sign-in. Issuer, client id and secret default to the server's
    MIDCORE_OIDC_* settings when omitted."""

    model_config = ConfigDict(extra="forbid")

    issuer: str | None = Field(
        default=None, max_length=500, pattern=r"^https?://[^\s?#]+$", description="Issuer URL."
    )
    client_id: str | None = Field(default=None, min_length=1, max_length=200)
    client_secret: str | None = Field(
        default=None, min_length=1, max_length=500, description="Write-only; never read back."
    )
    allowed_domains: list[Annotated[str, Field(max_length=253, pattern=_DOMAIN)]] = Field(
        min_length=1,
        max_length=50,
        description="Email domains whose users may sign in to this tenant (any case).",
    )
    default_role: Role = Field(
        default=Role.viewer, description="Role of members created at their first SSO sign-in."
    )
    is_jit_enabled: bool = Field(
        default=False,
        description="Make a first-time SSO user a member with the default role; when off, only "
        "existing members may sign in.",
    )


class TenantSso(BaseModel):
    issuer: str | None
    client_id: str | None
    has_client_secret: bool
    allowed_domains: list[str]
    default_role: Role
    is_jit_enabled: bool
    login_url: str = Field(description="Where a browser starts signing in to this tenant.")
    updated_at: datetime
