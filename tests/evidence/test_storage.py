"""The ledger in the database: appends, proofs, isolation, atomicity and concurrency."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from midcore.db import Database
from midcore.evidence import merkle, note
from midcore.evidence.keys import KeyStore
from midcore.evidence.models import EvidenceEntry, EvidenceNode
from midcore.evidence.repository import EntryFilters
from midcore.evidence.service import (
    EvidenceEntryNotFound,
    EvidenceService,
    NewEntry,
    recompute_root,
)
from midcore.evidence.verify import verify_pack
from midcore.tenants.service import create_tenant

from .conftest import gate_statement, run_statement


@pytest.fixture
def service(tmp_path: Path) -> EvidenceService:
    return EvidenceService(KeyStore(tmp_path / "keys"))


@pytest.fixture
async def tenants(database: Database) -> tuple[str, str]:
    async with database.session() as session:
        first = await create_tenant(session, "acme")
        second = await create_tenant(session, "globex")
        return first.id, second.id


def note_verifier(service: EvidenceService, tenant: str) -> note.NoteVerifier:
    return note.NoteVerifier.parse(service.keys.public_keys(tenant)[-1].note_key)


async def append_some(
    database: Database, service: EvidenceService, count: int, tenant: str
) -> list[str]:
    ids = []
    for number in range(count):
        async with database.session() as session:
            if number % 2:
                entry = await service.append(
                    session, tenant, gate_statement(number), gate=f"g{number % 3}", workspace="w"
                )
            else:
                entry = await service.append(
                    session, tenant, run_statement(number), run_id=f"run-{number}"
                )
            ids.append(entry.id)
    return ids


async def test_appends_are_provable(
    database: Database, service: EvidenceService, tenants: tuple[str, str]
) -> None:
    tenant = tenants[0]
    ids = await append_some(database, service, 13, tenant)
    async with database.session() as session:
        checkpoint = await service.latest_checkpoint(session, tenant)
        assert checkpoint.size == 13
        opened, _ = note.open_checkpoint(checkpoint.note, [note_verifier(service, tenant)])
        assert (opened.size, opened.root) == (13, checkpoint.root)
        assert await recompute_root(session, tenant) == (13, checkpoint.root)
        for entry_id in ids:
            proven = await service.entry_with_proof(session, tenant, entry_id)
            assert merkle.verify_inclusion(
                proven.entry.log_index,
                checkpoint.size,
                merkle.leaf_hash(proven.entry.envelope),
                proven.proof,
                checkpoint.root,
            )
        # The perfect nodes of 13 leaves: 13 + 6 + 3 + 1.
        nodes = await session.scalar(select(func.count()).select_from(EvidenceNode))
        assert nodes == 23


async def test_consistency_between_checkpoints(
    database: Database, service: EvidenceService, tenants: tuple[str, str]
) -> None:
    tenant = tenants[0]
    await append_some(database, service, 5, tenant)
    async with database.session() as session:
        old = await service.latest_checkpoint(session, tenant)
    await append_some(database, service, 9, tenant)
    async with database.session() as session:
        new = await service.latest_checkpoint(session, tenant)
        for old_size in (0, 1, 3, old.size, new.size):
            proof = await service.consistency_proof(session, tenant, old_size, new.size)
            old_root = merkle.EMPTY_ROOT if old_size == 0 else None
            if old_size == old.size:
                old_root = old.root
            if old_root is not None:
                assert merkle.verify_consistency(old_size, new.size, old_root, new.root, proof)
        proof = await service.consistency_proof(session, tenant, old.size, new.size)
        assert merkle.verify_consistency(old.size, new.size, old.root, new.root, proof)


async def test_other_tenant_entries_are_not_found(
    database: Database, service: EvidenceService, tenants: tuple[str, str]
) -> None:
    tenant, other = tenants
    [entry_id] = await append_some(database, service, 1, tenant)
    await append_some(database, service, 2, other)
    async with database.session() as session:
        with pytest.raises(EvidenceEntryNotFound):
            await service.entry_with_proof(session, other, entry_id)
        b_checkpoint = await service.latest_checkpoint(session, other)
        assert b_checkpoint.size == 2
        assert (await service.latest_checkpoint(session, tenant)).size == 1


async def test_failed_transaction_leaves_the_old_log(
    database: Database, service: EvidenceService, tenants: tuple[str, str]
) -> None:
    tenant = tenants[0]
    await append_some(database, service, 3, tenant)
    with pytest.raises(RuntimeError, match="crash"):
        async with database.session() as session:
            await service.append(session, tenant, gate_statement(99))
            raise RuntimeError("crash after the append, before commit")
    async with database.session() as session:
        assert (await service.latest_checkpoint(session, tenant)).size == 3
        assert await session.scalar(select(func.count()).select_from(EvidenceEntry)) == 3
        assert (
            await session.scalar(select(func.count()).select_from(EvidenceNode)) == 4
        )  # 3 leaves, 1 pair
    await append_some(database, service, 1, tenant)
    async with database.session() as session:
        size, root = await recompute_root(session, tenant)
        assert size == 4 and root == (await service.latest_checkpoint(session, tenant)).root


async def test_list_filters_and_cursor_pages(
    database: Database, service: EvidenceService, tenants: tuple[str, str]
) -> None:
    tenant = tenants[0]
    await append_some(database, service, 12, tenant)
    async with database.session() as session:
        seen: list[int] = []
        cursor = None
        while True:
            page = await service.list_entries(
                session, tenant, EntryFilters(), cursor=cursor, limit=5
            )
            seen.extend(entry.log_index for entry in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == list(range(11, -1, -1))  # newest first
        gates = await service.list_entries(session, tenant, EntryFilters(kind="gate"), limit=50)
        assert [entry.log_index for entry in gates.items] == [11, 9, 7, 5, 3, 1]
        by_run = await service.list_entries(session, tenant, EntryFilters(run_id="run-4"))
        assert [entry.log_index for entry in by_run.items] == [4]
        by_digest = await service.list_entries(
            session, tenant, EntryFilters(subject_digest="a" * 40), limit=100
        )
        assert len(by_digest.items) == 12


async def test_exported_pack_verifies(
    database: Database, service: EvidenceService, tenants: tuple[str, str]
) -> None:
    tenant = tenants[0]
    await append_some(database, service, 9, tenant)
    async with database.session() as session:
        pack = await service.export_pack(session, tenant, EntryFilters())
        filtered = await service.export_pack(session, tenant, EntryFilters(kind="gate"))
        snapshot = await service.snapshot(session, tenant)
    result = verify_pack(pack, trusted_key=note_verifier(service, tenant))
    assert result.is_valid, result.failure
    assert result.entries_checked == 9 and result.is_complete
    partial = verify_pack(filtered, trusted_key=note_verifier(service, tenant))
    assert partial.is_valid and partial.is_complete is False
    assert partial.counts == {"gate": 4}
    assert snapshot.tree_size == 9 and snapshot.counts == {"gate": 4, "run": 5}
    assert {(v["gate"], v["log_index"]) for v in snapshot.latest_verdicts} == {
        ("g0", 3),
        ("g1", 7),
        ("g2", 5),
    }
    assert [run["run_id"] for run in snapshot.recent_runs][:2] == ["run-8", "run-6"]


async def test_batch_append(
    database: Database, service: EvidenceService, tenants: tuple[str, str]
) -> None:
    tenant = tenants[0]
    async with database.session() as session:
        entries = await service.append_many(
            session, tenant, [NewEntry(gate_statement(n), gate="tests") for n in range(7)]
        )
    assert [entry.log_index for entry in entries] == list(range(7))
    async with database.session() as session:
        size, root = await recompute_root(session, tenant)
        assert size == 7 and root == (await service.latest_checkpoint(session, tenant)).root


async def test_concurrent_appenders_make_a_gap_free_log(
    database: Database, service: EvidenceService, tenants: tuple[str, str]
) -> None:
    tenant = tenants[0]
    workers, per_worker = 12, 6

    async def worker(number: int) -> None:
        for step in range(per_worker):
            async with database.session() as session:
                await service.append(session, tenant, gate_statement(number * 100 + step))

    await asyncio.gather(*(worker(number) for number in range(workers)))
    async with database.session() as session:
        checkpoint = await service.latest_checkpoint(session, tenant)
        size, root = await recompute_root(session, tenant)
    assert size == checkpoint.size == workers * per_worker
    assert root == checkpoint.root
