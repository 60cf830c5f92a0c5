"""The run state machine: the only place a run's status changes.

Every change is a compare-and-set on the row (`WHERE status = <the status we saw>`), so a cancel
arriving while the executor finishes cannot be lost or applied twice, whichever process does it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from midcore.db import utcnow
from midcore.errors import Conflict
from midcore.runs.models import Run


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    gating = "gating"
    cancelling = "cancelling"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    timed_out = "timed_out"
    error = "error"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset(
    {
        RunStatus.succeeded,
        RunStatus.failed,
        RunStatus.cancelled,
        RunStatus.timed_out,
        RunStatus.error,
    }
)
ACTIVE = frozenset({RunStatus.running, RunStatus.gating, RunStatus.cancelling})

ALLOWED: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.queued: frozenset({RunStatus.running, RunStatus.cancelled, RunStatus.error}),
    RunStatus.running: frozenset(
        {
            RunStatus.gating,
            RunStatus.cancelling,
            RunStatus.failed,
            RunStatus.timed_out,
            RunStatus.error,
        }
    ),
    RunStatus.gating: frozenset(
        {
            RunStatus.succeeded,
            RunStatus.failed,
            RunStatus.cancelling,
            RunStatus.timed_out,
            RunStatus.error,
        }
    ),
    RunStatus.cancelling: frozenset({RunStatus.cancelled, RunStatus.timed_out, RunStatus.error}),
    **{status: frozenset() for status in TERMINAL},
}


class IllegalTransition(Conflict):
    code = "illegal_transition"
    title = "Illegal run state change"


class StaleRunState(Conflict):
    """Someone else changed the run first; the caller re-reads and decides again."""

    code = "stale_run_state"
    title = "The run changed meanwhile"


def check(current: RunStatus, target: RunStatus) -> None:
    if target not in ALLOWED[current]:
        raise IllegalTransition(f"a run cannot go from {current} to {target}")


async def transition(
    session: AsyncSession,
    run: Run,
    target: RunStatus,
    reason: str | None = None,
    **fields: Any,
) -> RunStatus:
    """Move `run` to `target` if it is still in the status we saw; returns the old status."""
    current = RunStatus(run.status)
    check(current, target)
    now = utcnow()
    values: dict[str, Any] = {"status": target.value, **fields}
    if reason is not None or target.is_terminal:
        values["status_reason"] = reason
    if target is RunStatus.running and run.started_at is None:
        values["started_at"] = now
    if target.is_terminal:
        values["finished_at"] = now
    result = await session.execute(
        update(Run)
        .where(Run.id == run.id, Run.status == current.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.refresh(run)
        raise StaleRunState(f"run {run.id} is {run.status} now, not {current}")
    for key, value in values.items():
        setattr(run, key, value)
    return current


def elapsed_seconds(run: Run, now: datetime | None = None) -> float | None:
    if run.started_at is None:
        return None
    end = run.finished_at or now or utcnow()
    return max(0.0, (end - run.started_at).total_seconds())
