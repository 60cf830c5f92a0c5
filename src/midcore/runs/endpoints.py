from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import AwareDatetime
from sqlalchemy import select

from midcore.auth.dependencies import require
from midcore.auth.principal import Principal
from midcore.auth.roles import Permission
from midcore.db import after_commit
from midcore.deps import DatabaseDep, DbSession, SettingsDep
from midcore.errors import ValidationFailed
from midcore.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, fetch_page
from midcore.runs import service
from midcore.runs.events import event_payload
from midcore.runs.models import Run as RunRow
from midcore.runs.models import RunEvent
from midcore.runs.repository import RunRepository
from midcore.runs.schemas import (
    Run,
    RunAccepted,
    RunCreate,
    RunEventList,
    RunEventRead,
    RunLinks,
)
from midcore.runs.states import RunStatus, elapsed_seconds
from midcore.runs.streaming import parse_last_event_id, session_events

router = APIRouter(prefix="/api/v1/autonomy", tags=["runs"])

RunsRead = Annotated[Principal, Depends(require(Permission.RUNS_READ))]
RunsWrite = Annotated[Principal, Depends(require(Permission.RUNS_WRITE))]
EventsRead = Annotated[Principal, Depends(require(Permission.EVENTS_READ))]

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
PREFIX = "/api/v1/autonomy"


def links(run: RunRow) -> RunLinks:
    return RunLinks(
        self=f"{PREFIX}/runs/{run.id}",
        events=f"{PREFIX}/runs/{run.id}/events",
        stream=f"{PREFIX}/streaming/{run.session_id}/events",
        cancel=f"{PREFIX}/runs/{run.id}/cancel",
    )


def to_schema(run: RunRow) -> Run:
    spec: dict[str, Any] = run.spec
    return Run(
        id=run.id,
        session_id=run.session_id,
        kind=run.kind,
        status=RunStatus(run.status),
        status_reason=run.status_reason,
        task=run.task,
        workspace=spec.get("workspace") or {},
        agent={k: v for k, v in (spec.get("agent") or {}).items() if k != "env"},
        gates=spec.get("gates"),
        metadata=spec.get("metadata") or {},
        budget_seconds=run.budget_seconds,
        budget_used_seconds=elapsed_seconds(run),
        actor=run.actor,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        cancel_requested_at=run.cancel_requested_at,
        isolation=run.isolation or {},
        agent_exit_code=run.agent_exit_code,
        patch_sha256=run.patch_sha256,
        transcript_sha256=run.transcript_sha256,
        gate_verdicts=run.gate_verdicts or [],
        evidence_entry_ids=run.evidence_entry_ids or [],
        links=links(run),
    )


def _stream(request: Request, tenant_id: str, session_id: str, after: int) -> StreamingResponse:
    app = request.app
    return StreamingResponse(
        session_events(
            app.state.db,
            app.state.bus,
            tenant_id,
            session_id,
            after,
            app.state.settings.sse_keepalive_seconds,
        ),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


@router.post(
    "/run",
    status_code=202,
    responses={200: {"description": "An earlier request with this Idempotency-Key: its run."}},
    response_model=RunAccepted,
)
async def start_run(
    body: RunCreate,
    principal: RunsWrite,
    session: DbSession,
    settings: SettingsDep,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Start an automation run: 202 with links, or `text/event-stream` for the whole run."""
    run, is_new = await service.start_run(session, principal, body, settings, idempotency_key)
    if is_new:
        dispatcher = request.app.state.dispatcher
        run_id = run.id
        after_commit(session, lambda: dispatcher.dispatch(run_id))
    if body.stream:
        # The stream reads the run from other transactions: commit it first.
        await session.commit()
        return _stream(request, principal.tenant_id, run.session_id, 0)
    if not is_new:
        response.status_code = 200
    return RunAccepted(
        run_id=run.id, session_id=run.session_id, status=RunStatus(run.status), links=links(run)
    )


@router.get("/runs")
async def list_runs(
    principal: RunsRead,
    session: DbSession,
    status: Annotated[list[RunStatus] | None, Query()] = None,
    created_after: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Page[Run]:
    statement = RunRepository(session).readable(principal)
    if status:
        statement = statement.where(RunRow.status.in_([s.value for s in status]))
    if created_after:
        statement = statement.where(RunRow.created_at >= created_after)
    if created_before:
        statement = statement.where(RunRow.created_at < created_before)
    rows, next_cursor = await fetch_page(session, statement, RunRow.id, cursor, limit)
    return Page(items=[to_schema(row) for row in rows], next_cursor=next_cursor)


@router.get("/runs/{run_id}")
async def read_run(run_id: str, principal: RunsRead, session: DbSession) -> Run:
    return to_schema(await service.get_run(session, principal, run_id))


@router.get(
    "/runs/{run_id}/patch",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/x-diff": {}}}},
)
async def read_run_patch(run_id: str, principal: RunsRead, session: DbSession) -> Response:
    """The run's result as a unified diff against the workspace it started from (git apply)."""
    run = await service.get_run(session, principal, run_id)
    if run.patch is None:
        raise service.PatchNotAvailable(f"run {run_id} has no patch yet (it is {run.status})")
    return Response(
        run.patch,
        media_type="text/x-diff",
        headers={"X-Patch-SHA256": run.patch_sha256 or ""},
    )


@router.get("/runs/{run_id}/events")
async def read_run_events(
    run_id: str,
    principal: EventsRead,
    session: DbSession,
    after: int = Query(0, ge=0, description="Only events with a seq above this."),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> RunEventList:
    run = await service.get_run(session, principal, run_id)
    rows = (
        await session.scalars(
            select(RunEvent)
            .where(RunEvent.tenant_id == principal.tenant_id, RunEvent.run_id == run.id)
            .where(RunEvent.seq > after)
            .order_by(RunEvent.seq)
            .limit(limit + 1)
        )
    ).all()
    items = [RunEventRead(**event_payload(row)) for row in rows[:limit]]
    next_cursor = str(items[-1].seq) if len(rows) > limit else None
    return RunEventList(items=items, next_cursor=next_cursor)


@router.post("/runs/{run_id}/cancel")
async def cancel_run(
    run_id: str, principal: RunsWrite, session: DbSession, request: Request
) -> Run:
    """Cancel a queued or running run. A running run goes through `cancelling` first."""
    evidence = request.app.state.evidence_service
    run, tell_executor = await service.cancel_run(session, principal, run_id, evidence)
    if tell_executor:
        dispatcher = request.app.state.dispatcher
        after_commit(session, lambda: dispatcher.cancel(run_id))
    return to_schema(run)


@router.get(
    "/streaming/{session_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_session_events(
    session_id: str,
    principal: EventsRead,
    session: DbSession,
    request: Request,
    database: DatabaseDep,
    after: int | None = Query(None, ge=0),
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-sent events of a session: everything after `Last-Event-ID` (or `after`), then live."""
    await service.get_session(session, principal, session_id)
    if last_event_id is not None and not last_event_id.strip().isdigit():
        raise ValidationFailed("Last-Event-ID must be the seq of an event (a whole number)")
    await session.commit()  # release the connection: the stream may stay open for long
    return _stream(
        request, principal.tenant_id, session_id, parse_last_event_id(last_event_id, after)
    )
