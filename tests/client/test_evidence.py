"""The evidence resource against a real server: entries appended in its database, read back."""

from __future__ import annotations

import asyncio
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from midcore.client import NotFoundError
from tests.client.fixtures import Served


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
