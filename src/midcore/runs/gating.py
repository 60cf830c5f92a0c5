"""The gate phase of a run: the same engine as `midcore gates run`, its progress as events."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from midcore.gates.config import GateConfigError
from midcore.gates.models import GateResult, GateSetResult
from midcore.gates.runner import RunOptions, run_gates
from midcore.runs.events import EventType

if TYPE_CHECKING:
    from midcore.runs.executor import Executor, _Live
    from midcore.runs.models import Run
    from midcore.workspaces.service import PreparedWorkspace

BUDGET_EXCEEDED = "budget_exceeded"


def verdict_record(result: GateResult) -> dict[str, Any]:
    """What the run keeps of a gate's verdict (findings and tests stay in the gate report)."""
    return {
        "name": result.name,
        "kind": result.kind,
        "verdict": result.verdict.value,
        "reason": result.reason,
        "required": result.required,
        "is_warning": result.warns,
        "is_cached": result.is_cached,
        "duration_seconds": result.duration_seconds,
        "counts": result.counts,
    }


async def run_gate_phase(
    executor: Executor,
    run: Run,
    live: _Live,
    prepared: PreparedWorkspace,
    selection: list[str] | None,
    remaining_seconds: float,
) -> tuple[GateSetResult | None, list[dict[str, Any]], str | None]:
    """Run the selected gates within the budget left: the result, its verdicts, a failure reason."""
    progress: asyncio.Queue[tuple[EventType, dict[str, Any]] | None] = asyncio.Queue()

    def on_progress(event: str, name: str, result: GateResult | None) -> None:
        if event == "started":
            progress.put_nowait((EventType.gate_started, {"gate": name}))
        elif result is not None:
            progress.put_nowait((EventType.gate_finished, verdict_record(result)))

    async def forward() -> None:
        while (item := await progress.get()) is not None:
            await executor._emit(run, [item])

    forwarder = asyncio.create_task(forward())
    options = RunOptions(
        data_dir=executor.settings.data_dir.resolve(),
        only=list(selection or []),
        on_progress=on_progress,
    )
    gating = asyncio.create_task(run_gates(Path(prepared.path), options))
    cancel_wait = asyncio.create_task(live.cancel.wait())
    try:
        done, _ = await asyncio.wait(
            {gating, cancel_wait},
            timeout=max(0.0, remaining_seconds),
            return_when="FIRST_COMPLETED",
        )
        if gating not in done:
            gating.cancel()  # kills the gate processes (their groups) on the way out
            await asyncio.gather(gating, return_exceptions=True)
            return None, [], None if live.cancel.is_set() else BUDGET_EXCEEDED
        try:
            result: GateSetResult = gating.result()
        except GateConfigError as exc:
            return None, [], f"gate_config_error: {exc}"
    finally:
        cancel_wait.cancel()
        progress.put_nowait(None)
        await forwarder
    verdicts = [verdict_record(gate) for gate in result.gates]
    blocking = [gate.name for gate in result.gates if gate.blocks]
    return result, verdicts, (f"gate_failed:{blocking[0]}" if blocking else None)
