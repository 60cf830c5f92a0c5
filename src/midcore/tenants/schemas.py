from __future__ import annotations

from datetime import datetime

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
