from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    actor: str
    action: str
    target_type: str | None
    target_id: str | None
    outcome: str
    request_id: str | None
    client_ip: str | None
    details: dict[str, Any]
    created_at: datetime
