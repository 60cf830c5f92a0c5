"""Executing one run: claim, workspace, agent (sandboxed, in budget), gates, evidence, done.

Each step writes its own short transaction and announces new events on the bus, so readers see the
run as it goes. The run's budget covers everything from the claim to the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from midcore.agents.command import run_command_agent
from midcore.config import Settings
from midcore.db import Database, utcnow
from midcore.evidence.service import EvidenceService
from midcore.ids import new_id
from midcore.runs.events import EventBus, EventType, append_events
from midcore.runs.evidence import record_end, record_gates
from midcore.runs.gating import BUDGET_EXCEEDED, run_gate_phase
from midcore.runs.models import Run
from midcore.runs.states import RunStatus, StaleRunState, transition
from midcore.sandbox.process import ResourceLimits, terminate_group
from midcore.workspaces.service import PreparedWorkspace, WorkspaceError, diff_from_base, prepare

logger = logging.getLogger("midcore.executor")

HEARTBEAT_SECONDS = 2.0


@dataclass
class _Live:
    """What the executor knows about a run it is executing right now."""

    run_id: str
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    agent_pgid: int | None = None


class Executor:
    def __init__(
        self, database: Database, settings: Settings, bus: EventBus, evidence: EvidenceService
    ) -> None:
        self.database = database
        self.settings = settings
        self.bus = bus
        self.evidence = evidence
        self.worker_id = f"inline-{new_id()}"
        self.live: dict[str, _Live] = {}

    # -- state and events -------------------------------------------------------------------

    async def _emit(self, run: Run, events: Sequence[tuple[EventType, dict[str, Any]]]) -> None:
        async with self.database.session() as session:
            await append_events(session, run, events)
        self.bus.publish(run.session_id)

    async def _move(
        self, run: Run, target: RunStatus, reason: str | None = None, **fields: Any
    ) -> None:
        """Change state and say so in the log, in one transaction."""
        async with self.database.session() as session:
            fresh = await session.get(Run, run.id, populate_existing=True)
            assert fresh is not None
            previous = await transition(session, fresh, target, reason, **fields)
            await append_events(
                session,
                fresh,
                [
                    (
                        EventType.run_state,
                        {"from": previous.value, "to": target.value, "reason": reason},
                    )
                ],
            )
        for key in ("status", "status_reason", "started_at", "finished_at", *fields):
            setattr(run, key, getattr(fresh, key))
        self.bus.publish(run.session_id)

    # -- cancel -----------------------------------------------------------------------------

    def request_cancel(self, run_id: str) -> None:
        """Called in this process after a cancel commits: stop the agent now."""
        live = self.live.get(run_id)
        if live is None:
            return
        live.cancel.set()
        if live.agent_pgid is not None:
            asyncio.get_running_loop().create_task(terminate_group(live.agent_pgid))

    async def _heartbeat(self, live: _Live) -> None:
        """Keeps the run's heartbeat fresh and notices a cancel made by another process."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await self._beat(live)
            except Exception:  # a missed beat is retried; a dead heartbeat would lose cancels
                logger.exception("heartbeat of run %s failed", live.run_id)

    async def _beat(self, live: _Live) -> None:
        async with self.database.session() as session:
            await session.execute(
                update(Run)
                .where(Run.id == live.run_id)
                .values(heartbeat_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            run = await session.get(Run, live.run_id)
            cancelled = run is not None and run.status == RunStatus.cancelling
        if cancelled and not live.cancel.is_set():
            self.request_cancel(live.run_id)

    # -- the run ----------------------------------------------------------------------------

    async def execute(self, run_id: str) -> None:
        # Known before the claim commits, so a cancel that follows the claim at once finds it.
        live = self.live[run_id] = _Live(run_id)
        run = None
        try:
            run = await self._claim(run_id)
        finally:
            if run is None:
                self.live.pop(run_id, None)
        if run is None:
            return
        heartbeat = asyncio.create_task(self._heartbeat(live))
        try:
            await self._run(run, live)
        except Exception:
            logger.exception("run %s failed inside the executor", run_id)
            await self._finish(run, RunStatus.error, "internal_error")
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            self.live.pop(run_id, None)

    async def _claim(self, run_id: str) -> Run | None:
        """Take a queued run for this executor, exactly once across every process."""
        claimed: Run | None = None
        async with self.database.session() as session:
            run = await session.get(Run, run_id)
            if run is None or run.status != RunStatus.queued:
                return None  # cancelled while queued, or claimed by someone else
            try:
                await transition(
                    session, run, RunStatus.running, worker_id=self.worker_id, heartbeat_at=utcnow()
                )
            except StaleRunState:
                return None
            await append_events(
                session,
                run,
                [
                    (EventType.run_started, {"worker": self.worker_id}),
                    (EventType.run_state, {"from": "queued", "to": "running", "reason": None}),
                ],
            )
            claimed = run
        self.bus.publish(claimed.session_id)
        return claimed

    def agent_limits(self) -> ResourceLimits:
        megabyte = 1024 * 1024
        memory, file_size = self.settings.agent_memory_mb, self.settings.agent_file_size_mb
        return ResourceLimits(
            memory_bytes=memory * megabyte if memory else None,
            file_size_bytes=file_size * megabyte if file_size else None,
            open_files=4096,
        )

    def run_dir(self, run_id: str) -> Path:
        return self.settings.data_dir.resolve() / "runs" / run_id

    async def _run(self, run: Run, live: _Live) -> None:
        deadline = time.monotonic() + run.budget_seconds
        run_dir = self.run_dir(run.id)
        spec = run.spec
        try:
            prepared = await prepare(
                spec["workspace"],
                run_dir,
                self.settings.workspace_roots,
                exclude=[self.settings.data_dir],
            )
        except WorkspaceError as exc:
            await self._finish(run, RunStatus.error, f"workspace_error: {exc}")
            return
        except Exception as exc:  # a rejected path is checked at request time; this is a race
            await self._finish(run, RunStatus.error, f"workspace_error: {exc}")
            return

        await self._record(
            run,
            {
                "result": {
                    "source": prepared.source,
                    "source_commit": prepared.source_commit,
                    "base_commit": prepared.base_commit,
                }
            },
        )
        agent = spec["agent"]

        async def emit_output(stream: str, text: str, is_notice: bool) -> None:
            data: dict[str, Any] = {"stream": stream, "text": text}
            if is_notice:
                data["truncated"] = True
            await self._emit(run, [(EventType.agent_output, data)])

        def on_start(pid: int) -> None:
            live.agent_pgid = pid
            if live.cancel.is_set():  # cancelled while the process was starting
                asyncio.get_running_loop().create_task(terminate_group(pid))

        outcome = await run_command_agent(
            command=agent["command"],
            task=run.task,
            extra_env=agent.get("env") or {},
            network=bool(agent.get("network")),
            workspace=prepared.path,
            run_dir=run_dir,
            run_id=run.id,
            timeout_seconds=deadline - time.monotonic(),
            sandbox=self.settings.sandbox,
            limits=self.agent_limits(),
            hidden=[self.settings.data_dir.resolve()],
            emit=emit_output,
            on_start=on_start,
        )
        live.agent_pgid = None
        patch, patch_sha256 = await diff_from_base(prepared)
        produced = {
            "isolation": outcome.isolation.as_record(),
            "agent_exit_code": outcome.exit_code,
            "patch": patch,
            "patch_sha256": patch_sha256,
            "transcript_sha256": outcome.transcript_sha256,
        }
        await self._record(run, produced)
        if live.cancel.is_set():
            await self._finish(run, RunStatus.cancelled, "cancelled")
            return
        if outcome.is_timed_out:
            await self._finish(run, RunStatus.timed_out, BUDGET_EXCEEDED)
            return
        if outcome.exit_code != 0:
            await self._finish(
                run, RunStatus.failed, f"agent_failed: exit code {outcome.exit_code}"
            )
            return
        await self._gate(run, live, prepared, deadline)

    async def _record(self, run: Run, values: dict[str, Any]) -> None:
        async with self.database.session() as session:
            await session.execute(
                update(Run)
                .where(Run.id == run.id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        for key, value in values.items():
            setattr(run, key, value)

    async def _gate(
        self, run: Run, live: _Live, prepared: PreparedWorkspace, deadline: float
    ) -> None:
        selection = run.spec.get("gates")
        if selection == []:
            await self._move(run, RunStatus.gating)
            await self._finish(run, RunStatus.succeeded, "no_gates")
            return
        try:
            await self._move(run, RunStatus.gating)
        except StaleRunState:
            await self._finish(run, RunStatus.cancelled, "cancelled")
            return
        result, verdicts, reason = await run_gate_phase(
            self, run, live, prepared, selection, deadline - time.monotonic()
        )
        async with self.database.session() as session:
            fresh = await session.get(Run, run.id, populate_existing=True)
            assert fresh is not None
            fresh.gate_verdicts = verdicts
            events = await record_gates(session, self.evidence, fresh, result) if result else []
            await append_events(session, fresh, events)
        run.gate_verdicts, run.evidence_entry_ids = verdicts, fresh.evidence_entry_ids
        self.bus.publish(run.session_id)
        if live.cancel.is_set():
            await self._finish(run, RunStatus.cancelled, "cancelled")
        elif reason == BUDGET_EXCEEDED:
            await self._finish(run, RunStatus.timed_out, BUDGET_EXCEEDED)
        elif reason is not None:
            await self._finish(run, RunStatus.failed, reason)
        else:
            await self._finish(run, RunStatus.succeeded, "gates_passed")

    async def _finish(self, run: Run, target: RunStatus, reason: str) -> None:
        """End the run. A cancel that won the race turns any ending into `cancelled`."""
        for _attempt in range(3):
            async with self.database.session() as session:
                fresh = await session.get(Run, run.id, populate_existing=True)
                assert fresh is not None
                current = RunStatus(fresh.status)
                if current.is_terminal:
                    return
                if current is RunStatus.cancelling and target not in (RunStatus.error,):
                    target, reason = RunStatus.cancelled, "cancelled"
                try:
                    previous = await transition(session, fresh, target, reason)
                except StaleRunState:
                    continue
                events = await end_events(session, self.evidence, fresh, previous)
                await append_events(session, fresh, events)
            for key in ("status", "status_reason", "finished_at", "evidence_entry_ids"):
                setattr(run, key, getattr(fresh, key))
            self.bus.publish(run.session_id)
            return

    async def recover_lost_runs(self, stale_after_seconds: float) -> int:
        """End runs whose executor stopped beating (a process that died): `error`, `worker_lost`."""
        from midcore.runs.repository import find_lost_runs

        async with self.database.session() as session:
            lost = await find_lost_runs(session, stale_after_seconds, exclude=list(self.live))
        for run in lost:
            await self._finish(run, RunStatus.error, "worker_lost")
        return len(lost)

    async def dispatch_queued(self, dispatcher: Any) -> None:
        """Queued runs whose dispatch died with a previous process are handed out again."""
        from midcore.runs.repository import queued_run_ids

        async with self.database.session() as session:
            for run_id in await queued_run_ids(session):
                dispatcher.dispatch(run_id)

    async def janitor(self, interval_seconds: float) -> None:
        """Periodically: end runs of executors that stopped beating; delete expired run folders."""
        while True:
            await asyncio.sleep(max(1.0, interval_seconds))
            try:
                await self.recover_lost_runs(self.settings.worker_lost_after_seconds)
                await asyncio.to_thread(self.remove_expired_run_dirs)
            except Exception:
                logger.exception("janitor pass failed")

    def remove_expired_run_dirs(self) -> int:
        """Run folders (private copies, logs) older than the retention period, of finished runs."""
        root = self.settings.data_dir.resolve() / "runs"
        if not root.is_dir():
            return 0
        cutoff = time.time() - self.settings.run_retention_hours * 3600
        removed = 0
        for run_dir in root.iterdir():
            if run_dir.name in self.live or not run_dir.is_dir():
                continue
            if run_dir.stat().st_mtime < cutoff:
                shutil.rmtree(run_dir, ignore_errors=True)
                removed += 1
        return removed


async def end_events(
    session: AsyncSession, evidence: EvidenceService, run: Run, previous: RunStatus
) -> list[tuple[EventType, dict[str, Any]]]:
    """The events of a run's end, with its run statement appended to the ledger meanwhile."""
    change = {"from": previous.value, "to": run.status, "reason": run.status_reason}
    appended = await record_end(session, evidence, run)
    return [(EventType.run_state, change), *appended, (EventType.run_finished, finished_data(run))]


def finished_data(run: Run) -> dict[str, Any]:
    started, finished = run.started_at, run.finished_at
    duration = (finished - started).total_seconds() if started and finished else None
    return {
        "status": run.status,
        "status_reason": run.status_reason,
        "duration_seconds": duration,
        "agent_exit_code": run.agent_exit_code,
        "patch_sha256": run.patch_sha256,
        "gates": [
            {"name": v.get("name"), "verdict": v.get("verdict"), "required": v.get("required")}
            for v in run.gate_verdicts or []
        ],
        "evidence_entry_ids": run.evidence_entry_ids or [],
    }
