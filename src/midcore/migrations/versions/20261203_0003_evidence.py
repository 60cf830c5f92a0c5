"""The evidence ledger: log heads, entries, Merkle nodes, checkpoints and signing keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ENTRY_INDEXES = [
    ("ix_evidence_entries_tenant_created", ["tenant_id", "created_at"]),
    ("ix_evidence_entries_tenant_gate", ["tenant_id", "gate", "workspace"]),
    ("ix_evidence_entries_tenant_kind", ["tenant_id", "kind", "log_index"]),
    ("ix_evidence_entries_tenant_run", ["tenant_id", "run_id"]),
    ("ix_evidence_entries_tenant_subject", ["tenant_id", "subject_sha256"]),
]


def upgrade() -> None:
    op.create_table(
        "evidence_checkpoints",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_evidence_checkpoints_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_checkpoints")),
        sa.UniqueConstraint("tenant_id", "size", name=op.f("uq_evidence_checkpoints_tenant_id")),
    )
    op.create_table(
        "evidence_entries",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("predicate_type", sa.String(length=200), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("subject_sha256", sa.String(length=64), nullable=True),
        sa.Column("subject_git_commit", sa.String(length=64), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("gate", sa.String(length=100), nullable=True),
        sa.Column("workspace", sa.String(length=500), nullable=True),
        sa.Column("result", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_evidence_entries_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_entries")),
        sa.UniqueConstraint("tenant_id", "log_index", name=op.f("uq_evidence_entries_tenant_id")),
    )
    for name, columns in _ENTRY_INDEXES:
        op.create_index(name, "evidence_entries", columns)

    op.create_table(
        "evidence_log_heads",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_evidence_log_heads_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_evidence_log_heads")),
    )
    op.create_table(
        "evidence_nodes",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("node_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_evidence_nodes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "level", "node_index", name=op.f("pk_evidence_nodes")),
    )
    op.create_table(
        "evidence_signing_keys",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note_key", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_evidence_signing_keys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "key_id", name=op.f("pk_evidence_signing_keys")),
    )


def downgrade() -> None:
    op.drop_table("evidence_signing_keys")
    op.drop_table("evidence_nodes")
    op.drop_table("evidence_log_heads")
    for name, _ in reversed(_ENTRY_INDEXES):
        op.drop_index(name, table_name="evidence_entries")

    op.drop_table("evidence_entries")
    op.drop_table("evidence_checkpoints")
