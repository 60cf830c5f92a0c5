"""HTTP for the evidence ledger: parse, call the service, shape the response."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AwareDatetime

from midcore.audit.service import record
from midcore.auth.dependencies import require
from midcore.auth.principal import Principal
from midcore.auth.roles import Permission
from midcore.deps import DbSession
from midcore.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

from .repository import EntryFilters
from .schemas import (
    ConsistencyProof,
    EntryKind,
    Evidence,
    EvidenceSnapshot,
    EvidenceWithProof,
    InclusionProof,
    PackFormat,
    SignedCheckpoint,
    b64,
)
from .service import EvidenceService

router = APIRouter(prefix="/api/v1/autonomy", tags=["evidence"])

EvidenceRead = Annotated[Principal, Depends(require(Permission.EVIDENCE_READ))]
EvidenceExport = Annotated[Principal, Depends(require(Permission.EVIDENCE_EXPORT))]


def _app_evidence_service(request: Request) -> EvidenceService:
    # One service per app (made in create_app), so its key store keeps loaded keys.
    service: EvidenceService = request.app.state.evidence_service
    return service


Service = Annotated[EvidenceService, Depends(_app_evidence_service)]


def _filters(
    kind: Annotated[EntryKind | None, Query(description="gate, run or other.")] = None,
    run_id: str | None = None,
    gate: str | None = None,
    workspace: str | None = None,
    subject_digest: Annotated[
        str | None, Query(description="The subject's sha256 or gitCommit digest.")
    ] = None,
    since: Annotated[AwareDatetime | None, Query(description="Entries at or after.")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Entries before.")] = None,
) -> EntryFilters:
    return EntryFilters(
        kind=kind.value if kind else None,
        run_id=run_id,
        gate=gate,
        workspace=workspace,
        subject_digest=subject_digest,
        created_after=since,
        created_before=until,
    )


Filters = Annotated[EntryFilters, Depends(_filters)]


@router.get("/evidence")
async def list_evidence(
    principal: EvidenceRead,
    session: DbSession,
    service: Service,
    filters: Filters,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Page[Evidence]:
    page = await service.list_entries(
        session, principal.tenant_id, filters, cursor=cursor, limit=limit
    )
    return Page(items=[Evidence.from_row(row) for row in page.items], next_cursor=page.next_cursor)


# Declared before /evidence/{entry_id}, which would otherwise take "checkpoint" as an id.
@router.get("/evidence/checkpoint")
async def get_checkpoint(
    principal: EvidenceRead,
    session: DbSession,
    service: Service,
    consistency_from: Annotated[
        int | None, Query(ge=0, description="Add the consistency proof from this tree size.")
    ] = None,
) -> SignedCheckpoint:
    checkpoint = await service.latest_checkpoint(session, principal.tenant_id)
    consistency = None
    if consistency_from is not None:
        hashes = await service.consistency_proof(
            session, principal.tenant_id, consistency_from, checkpoint.size
        )
        consistency = ConsistencyProof(
            from_size=consistency_from,
            to_size=checkpoint.size,
            hashes=[b64(value) for value in hashes],
        )
    # The key store's list: it holds the key even before the first append is mirrored.
    keys = service.keys.public_keys(principal.tenant_id)
    return SignedCheckpoint(
        origin=service.keys.origin(principal.tenant_id),
        tree_size=checkpoint.size,
        root_sha256=checkpoint.root.hex(),
        checkpoint=checkpoint.note,
        note_keys=[key.note_key for key in keys],
        keys={key.key_id: key.to_json() for key in keys},
        consistency=consistency,
    )


@router.get("/evidence/{entry_id}")
async def get_evidence(
    entry_id: str, principal: EvidenceRead, session: DbSession, service: Service
) -> EvidenceWithProof:
    proven = await service.entry_with_proof(session, principal.tenant_id, entry_id)
    return EvidenceWithProof(
        entry=Evidence.from_row(proven.entry),
        inclusion=InclusionProof.build(
            proven.entry.log_index, proven.checkpoint.size, proven.proof, proven.checkpoint.note
        ),
        checkpoint=proven.checkpoint.note,
    )


@router.get(
    "/evidence-pack",
    response_model=EvidenceSnapshot,
    responses={200: {"content": {"application/zip": {}}, "description": "JSON, or the zip"}},
)
async def evidence_pack(
    principal: EvidenceExport,
    session: DbSession,
    service: Service,
    filters: Filters,
    pack_format: Annotated[PackFormat, Query(alias="format")] = PackFormat.json,
) -> EvidenceSnapshot | Response:
    record(
        session,
        principal,
        "evidence.export",
        target_type="evidence_pack",
        details={"format": pack_format.value, "filters": filters.as_dict()},
    )
    if pack_format is PackFormat.zip:
        pack = await service.export_pack(session, principal.tenant_id, filters)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return Response(
            pack,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="evidence-{stamp}.zip"'},
        )
    snapshot = await service.snapshot(session, principal.tenant_id)
    return EvidenceSnapshot(
        tree_size=snapshot.tree_size,
        root_sha256=snapshot.root_sha256,
        checkpoint=snapshot.checkpoint,
        counts=snapshot.counts,
        latest_verdicts=snapshot.latest_verdicts,
        recent_runs=snapshot.recent_runs,
    )
