"""Evidence tables. Entries and Merkle nodes are only inserted: no code updates or deletes them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from midcore.db import Base, utcnow
from midcore.ids import new_id


def _tenant_fk() -> ForeignKey:
    # Deleting a tenant removes its ledger with it; nothing else ever deletes evidence rows.
    return ForeignKey("tenants.id", ondelete="CASCADE")


class EvidenceLogHead(Base):
    """One row per tenant log: its size, root and latest checkpoint; appenders lock this row."""

    __tablename__ = "evidence_log_heads"

    tenant_id: Mapped[str] = mapped_column(_tenant_fk(), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    root_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    checkpoint: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvidenceEntry(Base):
    __tablename__ = "evidence_entries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "log_index"),
        Index("ix_evidence_entries_tenant_kind", "tenant_id", "kind", "log_index"),
        Index("ix_evidence_entries_tenant_run", "tenant_id", "run_id"),
        Index("ix_evidence_entries_tenant_gate", "tenant_id", "gate", "workspace"),
        Index("ix_evidence_entries_tenant_subject", "tenant_id", "subject_sha256"),
        Index("ix_evidence_entries_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(_tenant_fk())
    log_index: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    predicate_type: Mapped[str] = mapped_column(String(200))
    # The canonical envelope bytes: exactly the Merkle leaf.
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    key_id: Mapped[str] = mapped_column(String(64))
    subject_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    subject_git_commit: Mapped[str | None] = mapped_column(String(64), default=None)
    run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    gate: Mapped[str | None] = mapped_column(String(100), default=None)
    workspace: Mapped[str | None] = mapped_column(String(500), default=None)
    result: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvidenceNode(Base):
    """Hash of a perfect subtree: level L, index i covers leaves [i * 2**L, (i + 1) * 2**L)."""

    __tablename__ = "evidence_nodes"

    tenant_id: Mapped[str] = mapped_column(_tenant_fk(), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    node_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class EvidenceCheckpoint(Base):
    __tablename__ = "evidence_checkpoints"
    __table_args__ = (UniqueConstraint("tenant_id", "size"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(_tenant_fk())
    size: Mapped[int] = mapped_column(BigInteger)
    root_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvidenceSigningKey(Base):
    """Published public keys of a tenant (private keys stay in files, see keys.py)."""

    __tablename__ = "evidence_signing_keys"

    tenant_id: Mapped[str] = mapped_column(_tenant_fk(), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    note_key: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None] = mapped_column(default=None)
