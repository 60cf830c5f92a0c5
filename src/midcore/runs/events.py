"""The session event log (gap-free seq in the database) and the bus that says "look again"."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from midcore.runs.models import Run, RunEvent, RunSession


class EventType(StrEnum):
    run_queued = "run.queued"
    run_started = "run.started"
    run_state = "run.state"
    agent_output = "agent.output"
    agent_message = "agent.message"
    agent_tool_call = "agent.tool_call"
    agent_tool_result = "agent.tool_result"
    gate_started = "gate.started"
    gate_finished = "gate.finished"
    evidence_appended = "evidence.appended"
    run_finished = "run.finished"


async def append_events(
    session: AsyncSession, run: Run, events: Sequence[tuple[EventType, dict[str, Any]]]
) -> list[RunEvent]:
    """Append events to the run's session log with the next seqs.

    The seq counter is bumped with one UPDATE ... RETURNING, which takes the session row's lock on
    PostgreSQL (SQLite serialises writers), so concurrent appenders never share or skip a seq.
    """
    if not events:
        return []
    last = (
        await session.execute(
            update(RunSession)
            .where(RunSession.id == run.session_id)
            .values(last_seq=RunSession.last_seq + len(events))
            .returning(RunSession.last_seq)
        )
    ).scalar_one()
    first = last - len(events) + 1
    rows = [
        RunEvent(
            tenant_id=run.tenant_id,
            session_id=run.session_id,
            run_id=run.id,
            seq=first + offset,
            type=event_type.value,
            data=data,
        )
        for offset, (event_type, data) in enumerate(events)
    ]
    session.add_all(rows)
    await session.flush()
    return rows


async def events_after(
    session: AsyncSession, tenant_id: str, session_id: str, after: int, limit: int = 500
) -> Sequence[RunEvent]:
    statement = (
        select(RunEvent)
        .where(
            RunEvent.tenant_id == tenant_id,
            RunEvent.session_id == session_id,
            RunEvent.seq > after,
        )
        .order_by(RunEvent.seq)
        .limit(limit)
    )
    return (await session.scalars(statement)).all()


def event_payload(event: RunEvent) -> dict[str, Any]:
    created = event.created_at.astimezone(UTC)
    return {
        "run_id": event.run_id,
        "seq": event.seq,
        "ts": created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}Z",
        "type": event.type,
        "data": event.data,
    }


def sse_frame(event: RunEvent) -> str:
    data = json.dumps(event_payload(event), separators=(",", ":"))
    return f"id: {event.seq}\nevent: {event.type}\ndata: {data}\n\n"


class EventBus(Protocol):
    """Wake-ups only: a lost one delays an event until the next look, it never loses it."""

    def publish(self, session_id: str) -> None: ...

    def subscribe(self, session_id: str) -> Any:
        """An async context manager yielding a `Subscription`."""
        ...


class Subscription:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def _wake(self) -> None:
        self._event.set()

    async def wait(self, seconds: float) -> bool:
        """Wait for a wake-up; True when one came. Clears it for the next wait."""
        try:
            await asyncio.wait_for(self._event.wait(), seconds)
        except TimeoutError:
            return False
        self._event.clear()
        return True


class InProcessEventBus:
    """For the embedded default: publisher and subscribers share one event loop."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None

    def publish(self, session_id: str) -> None:
        subscribers = list(self._subscribers.get(session_id, ()))
        if not subscribers:
            return
        loop = self._loop
        for subscription in subscribers:
            if loop is not None and loop.is_running():
                loop.call_soon_threadsafe(subscription._wake)
            else:
                subscription._wake()

    @asynccontextmanager
    async def subscribe(self, session_id: str) -> AsyncIterator[Subscription]:
        self._loop = asyncio.get_running_loop()
        subscription = Subscription()
        self._subscribers[session_id].add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers[session_id].discard(subscription)
            if not self._subscribers[session_id]:
                del self._subscribers[session_id]
