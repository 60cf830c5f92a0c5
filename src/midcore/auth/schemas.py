from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from midcore.auth.roles import Role


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: Role
    expires_at: AwareDatetime | None = Field(
        default=None,
        description="When the key stops working (with a time zone); never when omitted.",
    )


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    role: Role
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The plaintext key. It is shown only in this response.")


class TenantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    slug: str
    name: str


class Me(BaseModel):
    tenant: TenantRead
    role: Role
    actor: str
    user_id: str | None
    api_key_id: str | None
    permissions: list[str]
    csrf_token: str | None = Field(
        default=None,
        description="With a session cookie: send it as X-CSRF-Token on every write.",
    )
    session_expires_at: datetime | None = None
    tenants: list[TenantRead] = Field(
        default_factory=list, description="With a session cookie: every tenant of the user's."
    )


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    tenant: str | None = Field(
        default=None,
        max_length=64,
        description="Slug or id of the tenant to land in; the user's first one when omitted.",
    )


class TenantSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(min_length=1, max_length=64, description="Slug or id of the tenant.")


class SessionsRevoked(BaseModel):
    revoked: int = Field(description="How many live sessions were ended.")
