"""The evidence resource against a real server: entries appended in its database, read back."""

from __future__ import annotations

import asyncio
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from midcore.client import NotFoundError
from tests.client.conftest import Served
from tests.conftest import run_blocking


@pytest.fixture(scope="module")
def ledger(served: Served) -> list[dict[str, Any]]:
    """Three gate statements appended to the default tenant's log; skips without the endpoints."""
    paths = httpx.get(f"{served.url}/openapi.json", timeout=10).json()["paths"]
    if "/api/v1/autonomy/evidence" not in paths:
        pytest.skip("this server has no evidence API yet")
    from midcore.db import Database  # noqa: I001 - the evidence package is optional here
    from midcore.evidence import statements as st
    from midcore.evidence.keys import KeyStore
    from midcore.evidence.service import EvidenceService

    with served.client() as client:
        tenant_id = client.me().tenant.id
    data_dir = served.server.data_dir
    subject = st.subject("workspace", git_commit="a" * 40, sha256="b" * 64)
    statements = [
        st.statement(
            [subject],
            st.TEST_RESULT_PREDICATE,
            st.test_result_predicate("PASSED" if n != 1 else "FAILED", passed_tests=[f"t{n}"]),
        )
        for n in range(3)
    ]

    async def append() -> None:
        database = Database(f"sqlite+aiosqlite:///{data_dir / 'midcore.db'}")
        service = EvidenceService(KeyStore(data_dir / "keys"))
        try:
            async with database.session() as session:
                for number, statement in enumerate(statements):
                    await service.append(
                        session, tenant_id, statement, gate=f"gate-{number}", workspace="app"
                    )
                await session.commit()
        finally:
            await database.dispose()

    run_blocking(append())
    return statements


def test_list_get_checkpoint_snapshot(served: Served, ledger: list[dict[str, Any]]) -> None:
    with served.client() as client:
        entries = list(client.evidence.list(page_size=1))
        gates = [e.gate for e in client.evidence.list(gate="gate-1")]
        proven = client.evidence.get(entries[0].id)
        checkpoint = client.evidence.checkpoint(consistency_from=1)
        snapshot = client.evidence.snapshot()
        with pytest.raises(NotFoundError):
            client.evidence.get("01nosuchentry")
    assert sorted(e.log_index for e in entries) == list(range(len(ledger)))
    assert gates == ["gate-1"]
    assert entries[0].subject_digest.git_commit == "a" * 40
    assert proven.entry.id == entries[0].id
    assert proven.inclusion.tree_size == len(ledger) and proven.inclusion.tlog_proof
    assert checkpoint.tree_size == len(ledger) and checkpoint.note_keys
    assert checkpoint.consistency is not None and checkpoint.consistency.from_size == 1
    assert snapshot.tree_size == len(ledger)


def test_export_pack_writes_the_zip(
    served: Served, ledger: list[dict[str, Any]], tmp_path: Path
) -> None:
    target = tmp_path / "pack.zip"
    with served.client() as client:
        written = client.evidence.export_pack(target)
        filtered = client.evidence.export_pack(tmp_path / "gate-0.zip", gate="gate-0")
    assert written == target and not (tmp_path / "pack.zip.part").exists()
    with zipfile.ZipFile(target) as pack:
        names = pack.namelist()
        lines = pack.read("attestations.intoto.jsonl").decode().splitlines()
    assert "manifest.json" in names and "checkpoint" in names
    assert len(lines) == len(ledger)
    with zipfile.ZipFile(filtered) as pack:
        manifest = json.loads(pack.read("manifest.json"))
    assert "gate-0" in json.dumps(manifest)


def test_async_evidence(served: Served, ledger: list[dict[str, Any]], tmp_path: Path) -> None:
    from midcore.client import AsyncMidcore

    async def read() -> tuple[int, int, Path]:
        async with AsyncMidcore(served.url, served.key) as client:
            entries = [e async for e in client.evidence.list()]
            checkpoint = await client.evidence.checkpoint()
            await client.evidence.get(entries[0].id)
            await client.evidence.snapshot()
            path = await client.evidence.export_pack(tmp_path / "async.zip")
            return len(entries), checkpoint.tree_size, path

    count, size, path = asyncio.run(read())
    assert count == size == len(ledger)
    assert zipfile.is_zipfile(path)
