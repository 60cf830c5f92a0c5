"""What a run leaves in the evidence ledger: its gate verdicts and, at its end, a run statement."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from midcore.evidence import statements
from midcore.evidence.service import EvidenceService, NewEntry
from midcore.gates.attestation import statements as gate_statements
from midcore.gates.models import GateSetResult
from midcore.runs.events import EventType
from midcore.runs.models import Run

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _run_subject(run: Run) -> dict[str, Any]:
    """The workspace state the run produced: the commit it started from and its patch.

    A run that never got a workspace (cancelled while queued) is named by its request instead.
    """
    result = run.result or {}
    source = str(result.get("source") or run.spec.get("workspace", {}).get("path") or "workspace")
    return statements.subject(
        f"workspace:{source}",
        git_commit=result.get("source_commit"),
        sha256=run.patch_sha256 or run.request_sha256 or EMPTY_SHA256,
    )


def run_statement(run: Run) -> dict[str, Any]:
    agent = {k: v for k, v in (run.spec.get("agent") or {}).items() if k != "env"}
    predicate = statements.run_predicate(
        run_id=run.id,
        task=run.task,
        agent=agent,
        actor=run.actor,
        budget_seconds=run.budget_seconds,
        started_at=run.started_at,
        finished_at=run.finished_at,
        state=run.status,
        status_reason=run.status_reason,
        patch_sha256=run.patch_sha256,
        transcript_sha256=run.transcript_sha256,
    )
    return statements.statement([_run_subject(run)], statements.RUN_PREDICATE, predicate)


def _appended(entries: list[Any]) -> list[tuple[EventType, dict[str, Any]]]:
    return [
        (
            EventType.evidence_appended,
            {"entry_id": e.id, "index": e.log_index, "kind": e.kind, "gate": e.gate},
        )
        for e in entries
    ]


async def record_gates(
    session: AsyncSession, evidence: EvidenceService, run: Run, result: GateSetResult
) -> list[tuple[EventType, dict[str, Any]]]:
    """Append a test-result statement per gate and one for the set, in the caller's transaction."""
    items = []
    names = [gate.name for gate in result.gates]
    for position, statement in enumerate(gate_statements(result)):
        gate = names[position] if position < len(names) else None
        items.append(NewEntry(statement, run_id=run.id, gate=gate, workspace=result.workspace.path))
    entries = await evidence.append_many(session, run.tenant_id, items)
    run.evidence_entry_ids = [*(run.evidence_entry_ids or []), *(e.id for e in entries)]
    return _appended(entries)


async def record_end(
    session: AsyncSession, evidence: EvidenceService, run: Run
) -> list[tuple[EventType, dict[str, Any]]]:
    """Append the run statement of a run that just ended, in the transaction that ended it."""
    entry = await evidence.append(session, run.tenant_id, run_statement(run), run_id=run.id)
    run.evidence_entry_ids = [*(run.evidence_entry_ids or []), entry.id]
    return _appended([entry])
