"""The evidence API: per endpoint, anonymous 401, missing permission 403, other tenant 404,
invalid input 422, and the valid call."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from midcore.audit.models import AuditEvent
from midcore.auth.roles import Role
from midcore.config import Settings
from midcore.evidence import merkle, note
from midcore.evidence.service import EvidenceService, build_evidence_service
from midcore.evidence.verify import verify_pack
from tests.conftest import TenantKeys
from tests.test_app import assert_problem

from . import packs
from .conftest import gate_statement, run_statement
from .test_cli import run as run_cli

BASE = "/api/v1/autonomy"


@pytest.fixture
def service(settings: Settings) -> EvidenceService:
    # The same key directory as the app under test.
    return build_evidence_service(settings)


async def populate(
    app: FastAPI, service: EvidenceService, tenant: TenantKeys, count: int
) -> list[str]:
    ids = []
    for number in range(count):
        async with app.state.db.session() as session:
            if number % 2:
                entry = await service.append(
                    session,
                    tenant.tenant_id,
                    gate_statement(number),
                    gate="tests",
                    workspace=f"ws{number % 4}",
                )
            else:
                entry = await service.append(
                    session, tenant.tenant_id, run_statement(number), run_id=f"run-{number}"
                )
            ids.append(entry.id)
    return ids


def vkey(response: httpx.Response) -> note.NoteVerifier:
    return vkey_of(response.json())


def vkey_of(checkpoint: dict[str, Any]) -> note.NoteVerifier:
    return note.NoteVerifier.parse(checkpoint["note_keys"][-1])


class TestListEvidence:
    async def test_anonymous(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get(f"{BASE}/evidence"), 401, "authentication_required")

    async def test_other_tenant_sees_nothing(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        service: EvidenceService,
        tenant: TenantKeys,
        other_tenant: TenantKeys,
    ) -> None:
        await populate(app, service, tenant, 3)
        response = await client.get(f"{BASE}/evidence", headers=other_tenant.headers(Role.viewer))
        assert response.status_code == 200
        assert response.json() == {"items": [], "next_cursor": None}

    @pytest.mark.parametrize(
        # Request validation, a naive time, and a cursor the service refuses.
        "query",
        ["kind=nope", "since=2026-01-01T00:00:00", "cursor=!!"],
    )
    async def test_invalid_input(
        self, client: httpx.AsyncClient, tenant: TenantKeys, query: str
    ) -> None:
        response = await client.get(f"{BASE}/evidence?{query}", headers=tenant.headers(Role.viewer))
        assert_problem(response, 422, "validation_failed")

    async def test_filters_and_pages(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        service: EvidenceService,
        tenant: TenantKeys,
    ) -> None:
        await populate(app, service, tenant, 7)
        headers = tenant.headers(Role.viewer)
        first = (await client.get(f"{BASE}/evidence?limit=4", headers=headers)).json()
        assert [item["log_index"] for item in first["items"]] == [6, 5, 4, 3]
        second = (
            await client.get(
                f"{BASE}/evidence?limit=4&cursor={first['next_cursor']}", headers=headers
            )
        ).json()
        assert [item["log_index"] for item in second["items"]] == [2, 1, 0]
        assert second["next_cursor"] is None
        gates = (await client.get(f"{BASE}/evidence?kind=gate", headers=headers)).json()
        assert [item["log_index"] for item in gates["items"]] == [5, 3, 1]
        assert gates["items"][0]["envelope"]["payloadType"] == "application/vnd.in-toto+json"
        runs = (await client.get(f"{BASE}/evidence?run_id=run-2", headers=headers)).json()
        assert [item["run_id"] for item in runs["items"]] == ["run-2"]
        later = (
            await client.get(
                f"{BASE}/evidence", params={"since": "2999-01-01T00:00:00Z"}, headers=headers
            )
        ).json()
        assert later["items"] == []


class TestGetEvidence:
    async def test_anonymous(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get(f"{BASE}/evidence/abc"), 401, "authentication_required")

    async def test_other_tenant_is_404(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        service: EvidenceService,
        tenant: TenantKeys,
        other_tenant: TenantKeys,
    ) -> None:
        [entry_id] = await populate(app, service, tenant, 1)
        response = await client.get(
            f"{BASE}/evidence/{entry_id}", headers=other_tenant.headers(Role.owner)
        )
        assert_problem(response, 404, "evidence_entry_not_found")

    async def test_entry_with_inclusion_proof(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        service: EvidenceService,
        tenant: TenantKeys,
    ) -> None:
        ids = await populate(app, service, tenant, 6)
        headers = tenant.headers(Role.viewer)
        checkpoint = await client.get(f"{BASE}/evidence/checkpoint", headers=headers)
        body = (await client.get(f"{BASE}/evidence/{ids[2]}", headers=headers)).json()
        opened, _ = note.open_checkpoint(body["checkpoint"], [vkey(checkpoint)])
        inclusion = body["inclusion"]
        assert inclusion["log_index"] == 2 and inclusion["tree_size"] == opened.size == 6
        envelope = body["entry"]["envelope"]
        leaf = merkle.leaf_hash(
            json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()
        )
        hashes = [base64.b64decode(value) for value in inclusion["hashes"]]
        assert merkle.verify_inclusion(2, opened.size, leaf, hashes, opened.root)
        assert inclusion["tlog_proof"].startswith("c2sp.org/tlog-proof@v1\nindex 2\n")


class TestCheckpoint:
    async def test_anonymous(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"{BASE}/evidence/checkpoint")
        assert_problem(response, 401, "authentication_required")

    @pytest.mark.parametrize("size", ["-1", "99"])  # refused by validation, then by the log
    async def test_invalid_consistency_from(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        service: EvidenceService,
        tenant: TenantKeys,
        size: str,
    ) -> None:
        await populate(app, service, tenant, 2)
        response = await client.get(
            f"{BASE}/evidence/checkpoint?consistency_from={size}",
            headers=tenant.headers(Role.viewer),
        )
        assert response.status_code == 422

    async def test_tenants_have_separate_logs(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        service: EvidenceService,
        tenant: TenantKeys,
        other_tenant: TenantKeys,
    ) -> None:
        await populate(app, service, tenant, 3)
        mine = (
            await client.get(f"{BASE}/evidence/checkpoint", headers=tenant.headers(Role.viewer))
        ).json()
        theirs = (
            await client.get(
                f"{BASE}/evidence/checkpoint", headers=other_tenant.headers(Role.viewer)
            )
        ).json()
        assert mine["tree_size"] == 3 and theirs["tree_size"] == 0
        assert mine["origin"] != theirs["origin"]
        assert theirs["root_sha256"] == merkle.EMPTY_ROOT.hex()
        assert set(mine["keys"]).isdisjoint(theirs["keys"])
        # Even the empty log's checkpoint verifies with the key it publishes.
        opened, _ = note.open_checkpoint(theirs["checkpoint"], [vkey_of(theirs)])
        assert opened.size == 0

    async def test_consistency_proof(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        service: EvidenceService,
        tenant: TenantKeys,
    ) -> None:
        headers = tenant.headers(Role.viewer)
        await populate(app, service, tenant, 3)
        old = await client.get(f"{BASE}/evidence/checkpoint", headers=headers)
        await populate(app, service, tenant, 5)
        new = await client.get(f"{BASE}/evidence/checkpoint?consistency_from=3", headers=headers)
        assert new.status_code == 200
        old_cp, _ = note.open_checkpoint(old.json()["checkpoint"], [vkey(old)])
        new_cp, _ = note.open_checkpoint(new.json()["checkpoint"], [vkey(new)])
        consistency = new.json()["consistency"]
        assert (consistency["from_size"], consistency["to_size"]) == (3, 8)
        hashes = [base64.b64decode(value) for value in consistency["hashes"]]
        assert merkle.verify_consistency(3, 8, old_cp.root, new_cp.root, hashes)


class TestEvidencePack:
    async def test_anonymous(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get(f"{BASE}/evidence-pack"), 401, "authentication_required")

    @pytest.mark.parametrize("role", [Role.viewer, Role.developer])  # lowest, and just below admin
    async def test_below_admin_is_denied_and_audited(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys, role: Role
    ) -> None:
        response = await client.get(f"{BASE}/evidence-pack", headers=tenant.headers(role))
        assert_problem(response, 403, "permission_denied")
        async with app.state.db.session() as session:
            denied = (
                await session.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied"))
            ).all()
        assert [event.action for event in denied] == [f"GET {BASE}/evidence-pack"]

    async def test_invalid_format(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        response = await client.get(
            f"{BASE}/evidence-pack?format=xml", headers=tenant.headers(Role.admin)
        )
        assert_problem(response, 422, "validation_failed")

    async def test_other_tenant_pack_holds_none_of_ours(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        service: EvidenceService,
        tenant: TenantKeys,
        other_tenant: TenantKeys,
    ) -> None:
        await populate(app, service, tenant, 4)
        response = await client.get(
            f"{BASE}/evidence-pack?format=zip", headers=other_tenant.headers(Role.admin)
        )
        assert response.status_code == 200
        result = verify_pack(response.content)
        assert result.is_valid, result.failure
        assert result.tree_size == 0 and result.entries_checked == 0

    async def test_snapshot_and_zip(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        service: EvidenceService,
        tenant: TenantKeys,
    ) -> None:
        await populate(app, service, tenant, 9)
        headers = tenant.headers(Role.admin)
        snapshot = (await client.get(f"{BASE}/evidence-pack", headers=headers)).json()
        assert snapshot["tree_size"] == 9 and snapshot["counts"] == {"gate": 4, "run": 5}
        assert {v["workspace"] for v in snapshot["latest_verdicts"]} == {"ws1", "ws3"}
        assert snapshot["recent_runs"][0]["run_id"] == "run-8"

        checkpoint = await client.get(f"{BASE}/evidence/checkpoint", headers=headers)
        response = await client.get(f"{BASE}/evidence-pack?format=zip", headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/zip"
        result = verify_pack(response.content, trusted_key=vkey(checkpoint))
        assert result.is_valid, result.failure
        assert result.entries_checked == 9 and result.is_complete

        filtered = await client.get(
            f"{BASE}/evidence-pack", params={"format": "zip", "kind": "gate"}, headers=headers
        )
        partial = verify_pack(filtered.content, trusted_key=vkey(checkpoint))
        assert partial.is_valid and partial.is_complete is False
        assert partial.counts == {"gate": 4}

        async with app.state.db.session() as session:
            exports = (
                await session.scalars(
                    select(AuditEvent).where(AuditEvent.action == "evidence.export")
                )
            ).all()
        assert [event.details["format"] for event in exports] == ["json", "zip", "zip"]
        assert exports[-1].details["filters"] == {"kind": "gate"}


async def test_api_export_verified_by_the_cli(
    app: FastAPI,
    client: httpx.AsyncClient,
    service: EvidenceService,
    tenant: TenantKeys,
    tmp_path: Path,
) -> None:
    await populate(app, service, tenant, 5)
    headers = tenant.headers(Role.admin)
    note_key = (await client.get(f"{BASE}/evidence/checkpoint", headers=headers)).json()[
        "note_keys"
    ][-1]
    pack = tmp_path / "pack.zip"
    pack.write_bytes(
        (await client.get(f"{BASE}/evidence-pack?format=zip", headers=headers)).content
    )
    ok = run_cli("evidence", "verify", str(pack), "--key", note_key)
    assert ok.returncode == 0, ok.stderr

    files = packs.unzip(pack.read_bytes())
    lines = packs.lines(files)
    del lines[3]
    del files["proofs/3.tlog-proof"]
    packs.set_lines(files, lines)
    pack.write_bytes(packs.rezip(files))
    failed = run_cli("evidence", "verify", str(pack), "--key", note_key)
    assert failed.returncode == 1
    assert failed.stderr.endswith(
        "entry 3: missing: checkpoint size 5 covers index 3 but the pack has no entry for it\n"
    )
