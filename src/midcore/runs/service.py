"""What a run is and does, for the API: start (idempotently), read, cancel."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from midcore.auth.principal import Principal
from midcore.config import Settings
from midcore.db import utcnow
from midcore.errors import Conflict, NotFound, ValidationFailed
from midcore.evidence.service import EvidenceService
from midcore.runs.events import EventType, append_events
from midcore.runs.executor import end_events
from midcore.runs.models import Run, RunSession
from midcore.runs.repository import RunRepository
from midcore.runs.schemas import GitWorkspace, PathWorkspace, RunCreate
from midcore.runs.states import RunStatus, StaleRunState, transition
from midcore.workspaces.service import check_git_url, resolve_allowed_path

IDEMPOTENCY_WINDOW = timedelta(hours=24)


class RunNotFound(NotFound):
    code = "run_not_found"
    title = "Run not found"


class SessionNotFound(NotFound):
    code = "session_not_found"
    title = "Session not found"


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"
    title = "Idempotency key reused with another request"


class PatchNotAvailable(NotFound):
    code = "patch_not_available"
    title = "Patch not available"


class RunAlreadyFinished(Conflict):
    code = "run_finished"
    title = "Run already finished"


def _request_sha256(body: RunCreate) -> str:
    canonical = body.model_dump(mode="json", exclude={"stream"})
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def check_request(body: RunCreate, settings: Settings) -> None:
    if body.budget_seconds > settings.max_budget_seconds:
        raise ValidationFailed(
            f"budget_seconds {body.budget_seconds} is above this server's maximum of "
            f"{settings.max_budget_seconds}"
        )
    if body.agent.network and not settings.allow_agent_network:
        raise ValidationFailed(
            "agent.network: this server does not let agents reach the network "
            "(MIDCORE_ALLOW_AGENT_NETWORK)"
        )
    if isinstance(body.workspace, PathWorkspace):
        path = resolve_allowed_path(body.workspace.path, settings.workspace_roots)
        if body.gates:
            _check_gate_names(path, body.gates, settings)
    elif isinstance(body.workspace, GitWorkspace):
        check_git_url(body.workspace.git, settings.workspace_roots)


def _check_gate_names(path: Path, names: list[str], settings: Settings) -> None:
    """Unknown gate names are refused before the agent spends its budget."""
    from midcore.gates.config import GateConfigError
    from midcore.gates.runner import load_gate_set, open_workspace

    try:
        known = {gate.name for gate in load_gate_set(open_workspace(path, settings.data_dir)).gates}
    except GateConfigError:
        return  # the workspace's own configuration is broken: the gate phase reports it
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValidationFailed(
            f"gates: unknown gate {', '.join(map(repr, unknown))} in this workspace "
            f"(gates: {', '.join(sorted(known)) or 'none'})"
        )


async def _replay(
    repository: RunRepository, principal: Principal, key: str, request_sha256: str
) -> Run | None:
    """The run an earlier request with this key started, if it is the same request."""
    existing = await repository.by_idempotency_key(principal, key)
    if existing is None:
        return None
    if utcnow() - existing.created_at > IDEMPOTENCY_WINDOW:
        existing.idempotency_key = None  # expired: the key is free again
        await repository.session.flush()
        return None
    if existing.request_sha256 != request_sha256:
        raise IdempotencyConflict(
            "this Idempotency-Key was used in the last 24 hours with a different request body"
        )
    return existing


async def start_run(
    session: AsyncSession,
    principal: Principal,
    body: RunCreate,
    settings: Settings,
    idempotency_key: str | None,
) -> tuple[Run, bool]:
    """Record a queued run; returns it and whether it is new (False: an idempotent replay)."""
    check_request(body, settings)
    repository = RunRepository(session)
    request_sha256 = _request_sha256(body)
    if idempotency_key:
        replayed = await _replay(repository, principal, idempotency_key, request_sha256)
        if replayed is not None:
            return replayed, False
    spec: dict[str, Any] = body.model_dump(
        mode="json", exclude={"task", "budget_seconds", "stream"}
    )
    try:
        async with session.begin_nested():
            run_session = RunSession(tenant_id=principal.tenant_id, kind="automation")
            session.add(run_session)
            await session.flush()
            run = Run(
                tenant_id=principal.tenant_id,
                session_id=run_session.id,
                kind="automation",
                status=RunStatus.queued.value,
                task=body.task,
                spec=spec,
                budget_seconds=body.budget_seconds,
                actor=principal.actor,
                idempotency_key=idempotency_key,
                request_sha256=request_sha256,
            )
            session.add(run)
            await session.flush()
            run_session.active_run_id = run.id
            await append_events(
                session,
                run,
                [
                    (
                        EventType.run_queued,
                        {"task": body.task, "budget_seconds": body.budget_seconds},
                    )
                ],
            )
    except IntegrityError:
        # Another request with the same key won the race; answer with its run.
        if idempotency_key is None:
            raise
        replayed = await _replay(repository, principal, idempotency_key, request_sha256)
        if replayed is None:
            raise
        return replayed, False
    return run, True


async def get_run(session: AsyncSession, principal: Principal, run_id: str) -> Run:
    run = await RunRepository(session).get(principal, run_id)
    if run is None:
        raise RunNotFound(f"no run {run_id} in this tenant")
    return run


async def get_session(session: AsyncSession, principal: Principal, session_id: str) -> RunSession:
    found = await RunRepository(session).get_session(principal, session_id)
    if found is None:
        raise SessionNotFound(f"no session {session_id} in this tenant")
    return found


async def cancel_run(
    session: AsyncSession, principal: Principal, run_id: str, evidence: EvidenceService
) -> tuple[Run, bool]:
    """Cancel a run; the flag says whether the executor must be told (it was running)."""
    run = await get_run(session, principal, run_id)
    for attempt in range(3):
        status = RunStatus(run.status)
        if status.is_terminal:
            raise RunAlreadyFinished(f"run {run_id} already finished: {status}")
        if status is RunStatus.cancelling:
            return run, False
        target = RunStatus.cancelled if status is RunStatus.queued else RunStatus.cancelling
        reason = "cancelled" if target is RunStatus.cancelled else "cancel_requested"
        try:
            await transition(session, run, target, reason, cancel_requested_at=utcnow())
            break
        except StaleRunState:
            # The executor moved the run meanwhile (claimed it, started gating, ended it):
            # decide again on the status it has now, which transition() has re-read.
            if attempt == 2:
                raise
    if target is RunStatus.cancelled:
        events = await end_events(session, evidence, run, status)
    else:
        events = [
            (EventType.run_state, {"from": status.value, "to": target.value, "reason": reason})
        ]
    await append_events(session, run, events)
    return run, target is RunStatus.cancelling
