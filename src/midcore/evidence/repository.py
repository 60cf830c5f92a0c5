"""Every query about evidence; each one is scoped to a tenant id given by the caller."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, insert, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .merkle import EMPTY_ROOT, NodeKey
from .models import (
    EvidenceCheckpoint,
    EvidenceEntry,
    EvidenceLogHead,
    EvidenceNode,
    EvidenceSigningKey,
)

# Bound parameters per statement stay well under SQLite's and asyncpg's limits.
_CHUNK = 400


@dataclass(frozen=True)
class EntryFilters:
    kind: str | None = None
    run_id: str | None = None
    gate: str | None = None
    workspace: str | None = None
    subject_digest: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        values = {
            "kind": self.kind,
            "run_id": self.run_id,
            "gate": self.gate,
            "workspace": self.workspace,
            "subject_digest": self.subject_digest,
            "created_after": self.created_after.isoformat() if self.created_after else None,
            "created_before": self.created_before.isoformat() if self.created_before else None,
        }
        return {key: value for key, value in values.items() if value is not None}


class EvidenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    # --- the log head, locked per tenant ---

    async def lock_head(self, tenant_id: str) -> EvidenceLogHead:
        """Lock the tenant's head row for this transaction, creating it on the first append.

        PostgreSQL: SELECT ... FOR UPDATE on the row serialises appenders of one tenant. SQLite
        has no row locks; a no-op UPDATE first takes the database write lock, so the read that
        follows cannot be interleaved with another writer's.
        """
        head = await self._lock_existing_head(tenant_id)
        if head is not None:
            return head
        values = {"tenant_id": tenant_id, "size": 0, "root_sha256": EMPTY_ROOT}
        dialect_insert = pg_insert if self._dialect == "postgresql" else sqlite_insert
        # Two first appenders may race here: one inserts, the other's insert does nothing.
        await self.session.execute(
            dialect_insert(EvidenceLogHead).values(values).on_conflict_do_nothing()
        )
        head = await self._lock_existing_head(tenant_id)
        assert head is not None
        return head

    async def _lock_existing_head(self, tenant_id: str) -> EvidenceLogHead | None:
        if self._dialect != "postgresql":
            touched = await self.session.execute(
                update(EvidenceLogHead)
                .where(EvidenceLogHead.tenant_id == tenant_id)
                .values(size=EvidenceLogHead.size)
            )
            if not getattr(touched, "rowcount", 0):
                return None
        statement = (
            select(EvidenceLogHead)
            .where(EvidenceLogHead.tenant_id == tenant_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def head(self, tenant_id: str) -> EvidenceLogHead | None:
        return await self.session.get(EvidenceLogHead, tenant_id, populate_existing=True)

    # --- Merkle nodes ---

    async def get_nodes(self, tenant_id: str, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        """The hashes of the given nodes, a few hundred per query."""
        wanted = sorted(set(keys))
        found: dict[NodeKey, bytes] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            rows = await self.session.execute(
                select(EvidenceNode.level, EvidenceNode.node_index, EvidenceNode.hash).where(
                    self._nodes_condition(tenant_id, chunk)
                )
            )
            found.update({(level, index): value for level, index, value in rows})
        if len(found) != len(wanted):
            raise RuntimeError(
                f"evidence log of {tenant_id} lacks {len(wanted) - len(found)} nodes"
            )
        return found

    def _nodes_condition(self, tenant_id: str, keys: list[NodeKey]) -> ColumnElement[bool]:
        if self._dialect == "postgresql":
            return and_(
                EvidenceNode.tenant_id == tenant_id,
                tuple_(EvidenceNode.level, EvidenceNode.node_index).in_(keys),
            )
        # SQLite seeks the primary key only when every OR term names all its columns; a row
        # value IN would scan the tenant's whole node range.
        by_level: dict[int, list[int]] = defaultdict(list)
        for level, index in keys:
            by_level[level].append(index)
        return or_(
            *(
                and_(
                    EvidenceNode.tenant_id == tenant_id,
                    EvidenceNode.level == level,
                    EvidenceNode.node_index.in_(indices),
                )
                for level, indices in by_level.items()
            )
        )

    async def add_nodes(self, tenant_id: str, nodes: Mapping[NodeKey, bytes]) -> None:
        rows = [
            {"tenant_id": tenant_id, "level": level, "node_index": index, "hash": value}
            for (level, index), value in nodes.items()
        ]
        for start in range(0, len(rows), _CHUNK):
            await self.session.execute(insert(EvidenceNode), rows[start : start + _CHUNK])

    # --- entries: insert and read, never update or delete ---

    async def add_entries(self, entries: Sequence[EvidenceEntry]) -> None:
        self.session.add_all(entries)
        await self.session.flush()

    def readable(self, tenant_id: str) -> Select[EvidenceEntry]:
        return select(EvidenceEntry).where(EvidenceEntry.tenant_id == tenant_id)

    def filtered(self, tenant_id: str, filters: EntryFilters) -> Select[EvidenceEntry]:
        statement = self.readable(tenant_id)
        if filters.kind:
            statement = statement.where(EvidenceEntry.kind == filters.kind)
        if filters.run_id:
            statement = statement.where(EvidenceEntry.run_id == filters.run_id)
        if filters.gate:
            statement = statement.where(EvidenceEntry.gate == filters.gate)
        if filters.workspace:
            statement = statement.where(EvidenceEntry.workspace == filters.workspace)
        if filters.subject_digest:
            digest = filters.subject_digest.lower()
            statement = statement.where(
                (EvidenceEntry.subject_sha256 == digest)
                | (EvidenceEntry.subject_git_commit == digest)
            )
        if filters.created_after:
            statement = statement.where(EvidenceEntry.created_at >= filters.created_after)
        if filters.created_before:
            statement = statement.where(EvidenceEntry.created_at < filters.created_before)
        return statement

    async def list_entries(
        self, tenant_id: str, filters: EntryFilters, *, before_index: int | None, limit: int
    ) -> list[EvidenceEntry]:
        """Newest first, like every list in the API; the cursor is the last index of a page."""
        statement = self.filtered(tenant_id, filters)
        if before_index is not None:
            statement = statement.where(EvidenceEntry.log_index < before_index)
        statement = statement.order_by(EvidenceEntry.log_index.desc()).limit(limit)
        return list((await self.session.execute(statement)).scalars())

    async def all_matching(self, tenant_id: str, filters: EntryFilters) -> list[EvidenceEntry]:
        statement = self.filtered(tenant_id, filters).order_by(EvidenceEntry.log_index)
        return list((await self.session.execute(statement)).scalars())

    async def get_entry(self, tenant_id: str, entry_id: str) -> EvidenceEntry | None:
        statement = self.readable(tenant_id).where(EvidenceEntry.id == entry_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def leaf_hashes(self, tenant_id: str) -> list[bytes]:
        """Every leaf hash in log order (for audits that recompute the root from scratch)."""
        rows = await self.session.execute(
            select(EvidenceEntry.leaf_sha256)
            .where(EvidenceEntry.tenant_id == tenant_id)
            .order_by(EvidenceEntry.log_index)
        )
        return list(rows.scalars())

    async def indices(self, tenant_id: str) -> list[int]:
        rows = await self.session.execute(
            select(EvidenceEntry.log_index)
            .where(EvidenceEntry.tenant_id == tenant_id)
            .order_by(EvidenceEntry.log_index)
        )
        return list(rows.scalars())

    # --- checkpoints and keys ---

    async def add_checkpoint(self, checkpoint: EvidenceCheckpoint) -> None:
        self.session.add(checkpoint)
        await self.session.flush()

    async def signing_keys(self, tenant_id: str) -> list[EvidenceSigningKey]:
        rows = await self.session.execute(
            select(EvidenceSigningKey)
            .where(EvidenceSigningKey.tenant_id == tenant_id)
            .order_by(EvidenceSigningKey.valid_from)
        )
        return list(rows.scalars())

    async def save_signing_key(self, key: EvidenceSigningKey) -> None:
        await self.session.merge(key)
        await self.session.flush()
