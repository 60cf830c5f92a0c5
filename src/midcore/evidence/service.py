"""What the ledger does: append signed statements, checkpoint, prove, export. No HTTP here."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from midcore.config import Settings
from midcore.errors import NotFound, ValidationFailed

from . import dsse, merkle, statements
from .keys import KeyStore, SigningKey
from .models import EvidenceCheckpoint, EvidenceEntry, EvidenceLogHead, EvidenceSigningKey
from .note import Checkpoint, sign_checkpoint
from .pack import PackEntry, build_pack
from .proof import TlogProof
from .repository import EntryFilters, EvidenceRepository

# Above this many nodes a pack export reads the tenant's whole node table in one query.
_BULK_NODE_THRESHOLD = 5000


class EvidenceEntryNotFound(NotFound):
    code = "evidence_entry_not_found"
    title = "Evidence entry not found"


class InvalidTreeSize(ValidationFailed):
    code = "invalid_tree_size"
    title = "Invalid tree size"


@dataclass(frozen=True)
class NewEntry:
    """A statement to append, with what the ledger indexes it by."""

    statement: Mapping[str, Any]
    run_id: str | None = None
    gate: str | None = None
    workspace: str | None = None


@dataclass(frozen=True)
class CheckpointView:
    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class EntryProof:
    entry: EvidenceEntry
    proof: list[bytes]
    checkpoint: CheckpointView


@dataclass
class EntryPage:
    items: list[EvidenceEntry]
    next_cursor: str | None


@dataclass
class Snapshot:
    tree_size: int
    root_sha256: str
    checkpoint: str
    counts: dict[str, int]
    latest_verdicts: list[dict[str, Any]] = field(default_factory=list)
    recent_runs: list[dict[str, Any]] = field(default_factory=list)


def _first_subject_digest(statement: Mapping[str, Any]) -> dict[str, str]:
    subjects = statement.get("subject") or [{}]
    digest = subjects[0].get("digest") or {}
    return {key: str(value) for key, value in digest.items()}


def _result_of(statement: Mapping[str, Any]) -> str | None:
    predicate = statement.get("predicate") or {}
    value = predicate.get("result") or predicate.get("state")
    return str(value) if value else None


def encode_cursor(log_index: int) -> str:
    return base64.urlsafe_b64encode(f"i:{log_index}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = text.partition(":")
        if prefix != "i" or not value.isdigit():
            raise ValueError(cursor)
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("cursor is not one this API returned") from None


class EvidenceService:
    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        # (tenant, key id) pairs read back from the database, hence committed; published keys
        # are never removed, so these need no further query.
        self._published: set[tuple[str, str]] = set()

    # --- appending ---

    async def append(
        self,
        session: AsyncSession,
        tenant_id: str,
        statement: Mapping[str, Any],
        *,
        run_id: str | None = None,
        gate: str | None = None,
        workspace: str | None = None,
    ) -> EvidenceEntry:
        entry = NewEntry(statement, run_id=run_id, gate=gate, workspace=workspace)
        [appended] = await self.append_many(session, tenant_id, [entry])
        return appended

    async def append_many(
        self, session: AsyncSession, tenant_id: str, items: Sequence[NewEntry]
    ) -> list[EvidenceEntry]:
        """Sign and append statements in the caller's transaction, then publish a checkpoint.

        The tenant's head row is locked first, so concurrent appenders take turns: indices are
        unique and gap-free, and a transaction that fails leaves the log exactly as it was.
        """
        if not items:
            return []
        key = self.keys.signing_key(tenant_id)
        # Signing needs no lock: the leaf does not depend on the index it will get.
        lines = [self._sign(item.statement, key) for item in items]
        repository = EvidenceRepository(session)
        head = await repository.lock_head(tenant_id)
        await self._publish_key(repository, tenant_id, key)
        frontier = await repository.get_nodes(tenant_id, merkle.perfect_nodes(0, head.size))
        result = merkle.append_leaves(
            head.size, frontier, [merkle.leaf_hash(line) for line in lines]
        )
        await repository.add_nodes(tenant_id, result.new_nodes)
        now = datetime.now(UTC)
        entries = []
        for offset, (item, line) in enumerate(zip(items, lines, strict=True)):
            digest = _first_subject_digest(item.statement)
            entries.append(
                EvidenceEntry(
                    tenant_id=tenant_id,
                    log_index=result.first_index + offset,
                    kind=statements.kind_of(item.statement),
                    predicate_type=str(item.statement["predicateType"]),
                    envelope=line,
                    leaf_sha256=merkle.leaf_hash(line),
                    key_id=key.key_id,
                    subject_sha256=digest.get("sha256"),
                    subject_git_commit=digest.get("gitCommit"),
                    run_id=item.run_id,
                    gate=item.gate,
                    workspace=item.workspace,
                    result=_result_of(item.statement),
                    created_at=now,
                )
            )
        await repository.add_entries(entries)
        note = self._sign_checkpoint(tenant_id, result.size, result.root, key)
        head.size, head.root_sha256, head.checkpoint, head.updated_at = (
            result.size,
            result.root,
            note,
            now,
        )
        await repository.add_checkpoint(
            EvidenceCheckpoint(
                tenant_id=tenant_id,
                size=result.size,
                root_sha256=result.root,
                note=note,
                key_id=key.key_id,
                created_at=now,
            )
        )
        return entries

    @staticmethod
    def _sign(statement: Mapping[str, Any], key: SigningKey) -> bytes:
        statements.decode(statements.encode(statement))  # refuse what is not a Statement v1
        envelope = dsse.sign(
            dsse.IN_TOTO_PAYLOAD_TYPE, statements.encode(statement), key.private_key
        )
        return envelope.canonical_bytes()

    def _sign_checkpoint(self, tenant_id: str, size: int, root: bytes, key: SigningKey) -> str:
        body = Checkpoint(origin=self.keys.origin(tenant_id), size=size, root=root)
        return sign_checkpoint(body, key.note_name, key.private_key)

    async def _publish_key(
        self, repository: EvidenceRepository, tenant_id: str, key: SigningKey
    ) -> None:
        """Mirror the key store's public keys into the database when a new key appears."""
        if (tenant_id, key.key_id) in self._published:
            return
        published = {row.key_id for row in await repository.signing_keys(tenant_id)}
        if key.key_id in published:
            self._published.add((tenant_id, key.key_id))
            return
        for info in self.keys.public_keys(tenant_id):
            await repository.save_signing_key(
                EvidenceSigningKey(
                    tenant_id=tenant_id,
                    key_id=info.key_id,
                    public_key=info.public_key,
                    note_key=info.note_key,
                    valid_from=info.valid_from,
                    valid_until=info.valid_until,
                )
            )

    # --- reading ---

    async def latest_checkpoint(self, session: AsyncSession, tenant_id: str) -> CheckpointView:
        head = await EvidenceRepository(session).head(tenant_id)
        if head is None or head.checkpoint is None:
            # An empty log still has a signed tree head: size 0, the hash of nothing.
            key = self.keys.signing_key(tenant_id)
            note = self._sign_checkpoint(tenant_id, 0, merkle.EMPTY_ROOT, key)
            return CheckpointView(size=0, root=merkle.EMPTY_ROOT, note=note)
        return CheckpointView(size=head.size, root=head.root_sha256, note=head.checkpoint)

    async def consistency_proof(
        self, session: AsyncSession, tenant_id: str, old_size: int, new_size: int
    ) -> list[bytes]:
        if not 0 <= old_size <= new_size:
            raise InvalidTreeSize(f"consistency_from must be between 0 and {new_size}")
        ranges = merkle.consistency_ranges(old_size, new_size)
        nodes = await EvidenceRepository(session).get_nodes(tenant_id, merkle.nodes_for(ranges))
        return merkle.assemble(ranges, nodes)

    async def entry_with_proof(
        self, session: AsyncSession, tenant_id: str, entry_id: str
    ) -> EntryProof:
        repository = EvidenceRepository(session)
        entry = await repository.get_entry(tenant_id, entry_id)
        if entry is None:
            raise EvidenceEntryNotFound(f"no evidence entry {entry_id}")
        checkpoint = await self.latest_checkpoint(session, tenant_id)
        ranges = merkle.inclusion_ranges(entry.log_index, checkpoint.size)
        nodes = await repository.get_nodes(tenant_id, merkle.nodes_for(ranges))
        return EntryProof(entry, merkle.assemble(ranges, nodes), checkpoint)

    async def list_entries(
        self,
        session: AsyncSession,
        tenant_id: str,
        filters: EntryFilters,
        *,
        cursor: str | None = None,
        limit: int = 50,
    ) -> EntryPage:
        before = decode_cursor(cursor) if cursor else None
        items = await EvidenceRepository(session).list_entries(
            tenant_id, filters, before_index=before, limit=limit + 1
        )
        next_cursor = encode_cursor(items[limit - 1].log_index) if len(items) > limit else None
        return EntryPage(items=items[:limit], next_cursor=next_cursor)

    async def export_pack(
        self, session: AsyncSession, tenant_id: str, filters: EntryFilters
    ) -> bytes:
        """The pack of every matching entry, each with its proof against the latest checkpoint."""
        repository = EvidenceRepository(session)
        checkpoint = await self.latest_checkpoint(session, tenant_id)
        entries = [
            entry
            for entry in await repository.all_matching(tenant_id, filters)
            # Entries appended after the checkpoint was read belong to the next pack.
            if entry.log_index < checkpoint.size
        ]
        ranges = {
            entry.log_index: merkle.inclusion_ranges(entry.log_index, checkpoint.size)
            for entry in entries
        }
        wanted = merkle.nodes_for(r for per_entry in ranges.values() for r in per_entry)
        nodes = await repository.get_nodes(tenant_id, wanted)
        pack_entries = [
            PackEntry(
                index=entry.log_index,
                line=entry.envelope,
                proof=TlogProof(
                    entry.log_index,
                    tuple(merkle.assemble(ranges[entry.log_index], nodes)),
                    checkpoint.note,
                ),
            )
            for entry in entries
        ]
        keys = [info for info in self.keys.public_keys(tenant_id)]
        return build_pack(
            tenant_id=tenant_id,
            origin=self.keys.origin(tenant_id),
            checkpoint=checkpoint.note,
            tree_size=checkpoint.size,
            entries=pack_entries,
            keys=keys,
            filters=filters.as_dict(),
        )

    async def snapshot(
        self, session: AsyncSession, tenant_id: str, *, recent: int = 10
    ) -> Snapshot:
        checkpoint = await self.latest_checkpoint(session, tenant_id)
        counts_rows = await session.execute(
            select(EvidenceEntry.kind, func.count())
            .where(EvidenceEntry.tenant_id == tenant_id, EvidenceEntry.log_index < checkpoint.size)
            .group_by(EvidenceEntry.kind)
        )
        latest = (
            select(func.max(EvidenceEntry.log_index))
            .where(EvidenceEntry.tenant_id == tenant_id, EvidenceEntry.kind == "gate")
            .group_by(EvidenceEntry.gate, EvidenceEntry.workspace)
        )
        verdict_rows = await session.execute(
            select(EvidenceEntry)
            .where(EvidenceEntry.tenant_id == tenant_id, EvidenceEntry.log_index.in_(latest))
            .order_by(EvidenceEntry.gate, EvidenceEntry.workspace)
        )
        run_rows = await session.execute(
            select(EvidenceEntry)
            .where(EvidenceEntry.tenant_id == tenant_id, EvidenceEntry.kind == "run")
            .order_by(EvidenceEntry.log_index.desc())
            .limit(recent)
        )
        return Snapshot(
            tree_size=checkpoint.size,
            root_sha256=checkpoint.root.hex(),
            checkpoint=checkpoint.note,
            counts={str(row[0]): int(row[1]) for row in counts_rows},
            latest_verdicts=[
                {
                    "gate": entry.gate,
                    "workspace": entry.workspace,
                    "result": entry.result,
                    "entry_id": entry.id,
                    "log_index": entry.log_index,
                    "created_at": entry.created_at,
                }
                for entry in verdict_rows.scalars()
            ],
            recent_runs=[
                {
                    "run_id": entry.run_id,
                    "state": entry.result,
                    "entry_id": entry.id,
                    "log_index": entry.log_index,
                    "created_at": entry.created_at,
                }
                for entry in run_rows.scalars()
            ],
        )


async def recompute_root(session: AsyncSession, tenant_id: str) -> tuple[int, bytes]:
    """The log's size and root rebuilt from every stored leaf, for audits."""
    repository = EvidenceRepository(session)
    indices = await repository.indices(tenant_id)
    if indices != list(range(len(indices))):
        raise RuntimeError(f"evidence log of {tenant_id} has a gap or duplicate")
    log = merkle.MerkleLog()
    log.append_hashes(await repository.leaf_hashes(tenant_id))
    return log.size, log.root()


__all__ = [
    "CheckpointView",
    "EntryFilters",
    "EntryPage",
    "EntryProof",
    "EvidenceEntryNotFound",
    "EvidenceLogHead",
    "EvidenceService",
    "NewEntry",
    "Snapshot",
    "recompute_root",
]


def build_evidence_service(settings: Settings) -> EvidenceService:
    """The ledger service of a server: keys in the data directory or an external key file."""
    keys = KeyStore(settings.data_dir / "keys", external_key_file=settings.evidence_key_file)
    return EvidenceService(keys)
