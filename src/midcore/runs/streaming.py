"""SSE for a session: replay from the log after a seq, then follow live until the run ends."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import select

from midcore.db import Database
from midcore.runs.events import EventBus, EventType, events_after, sse_frame
from midcore.runs.models import Run, RunSession
from midcore.runs.states import RunStatus

PAGE = 500


async def _active_run_status(
    database: Database, session_id: str
) -> tuple[str | None, RunStatus | None]:
    async with database.session() as session:
        row = (
            await session.execute(
                select(RunSession.active_run_id, Run.status)
                .select_from(RunSession)
                .outerjoin(Run, Run.id == RunSession.active_run_id)
                .where(RunSession.id == session_id)
            )
        ).first()
    if row is None or row[0] is None:
        return None, None
    return row[0], RunStatus(row[1])


async def session_events(
    database: Database,
    bus: EventBus,
    tenant_id: str,
    session_id: str,
    after: int,
    keepalive_seconds: float,
) -> AsyncIterator[str]:
    """SSE frames after `after`; ends after the event that ends the session's active run."""
    async with bus.subscribe(session_id) as subscription:
        while True:
            # Subscribed before reading, so an event committed meanwhile still wakes us. The
            # status is read before the events: a run seen terminal here has its run.finished
            # committed already, so the events read next include it if it was not sent yet.
            active_run_id, status = await _active_run_status(database, session_id)
            async with database.session() as session:
                events = await events_after(session, tenant_id, session_id, after, PAGE)
            for event in events:
                yield sse_frame(event)
                after = event.seq
                if event.type == EventType.run_finished and event.run_id == active_run_id:
                    return
            if len(events) == PAGE:
                continue
            if not events:
                if status is not None and status.is_terminal:
                    return
                if not await subscription.wait(keepalive_seconds):
                    yield ": keepalive\n\n"


def parse_last_event_id(header: str | None, after: int | None) -> int:
    """`Last-Event-ID` wins over `?after=`; anything that is not a seq starts from the beginning."""
    if header is not None and header.strip().isdigit():
        return int(header.strip())
    return after or 0
