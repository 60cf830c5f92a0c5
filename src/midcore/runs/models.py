from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from midcore.db import Base, utcnow
from midcore.ids import new_id


class RunSession(Base):
    """What SSE streams follow: one automation run, or the successive runs of a vibe session."""

    __tablename__ = "run_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    # The seq of the last event; bumped under the row lock so seqs have no gaps.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    active_run_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_runs_tenant_id_id", "tenant_id", "id"),
        Index("ix_runs_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(ForeignKey("run_sessions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    status_reason: Mapped[str | None] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(Text)
    # The request as accepted (workspace, agent, gates, metadata), for the executor and readers.
    spec: Mapped[dict[str, Any]] = mapped_column()
    budget_seconds: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    cancel_requested_at: Mapped[datetime | None]
    worker_id: Mapped[str | None] = mapped_column(String(100))
    heartbeat_at: Mapped[datetime | None]
    isolation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    agent_exit_code: Mapped[int | None] = mapped_column(Integer)
    patch: Mapped[str | None] = mapped_column(Text)
    patch_sha256: Mapped[str | None] = mapped_column(String(64))
    transcript_sha256: Mapped[str | None] = mapped_column(String(64))
    gate_verdicts: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    evidence_entry_ids: Mapped[list[str]] = mapped_column(default=list)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RunEvent(Base):
    """The session's event log: the source of truth that SSE replays; never updated."""

    __tablename__ = "run_events"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(ForeignKey("run_sessions.id", ondelete="CASCADE"))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
