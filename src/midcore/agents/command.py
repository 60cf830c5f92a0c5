"""The `command` agent: any agent CLI, run in the workspace, its output streamed as events."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from midcore.sandbox.isolation import Isolation, SandboxMode, wrap
from midcore.sandbox.process import ResourceLimits, build_env, run_process

# Output shown in events per run; the rest is kept in the run's output log and said so.
MAX_EVENT_OUTPUT_BYTES = 1024 * 1024
MAX_EVENT_CHUNK_BYTES = 16 * 1024
FLUSH_SECONDS = 0.25

Emit = Callable[[str, str, bool], Awaitable[None]]  # stream, text, is_truncation_notice


@dataclass
class AgentOutcome:
    exit_code: int | None
    is_timed_out: bool
    duration_seconds: float
    transcript_sha256: str
    output_bytes: int
    isolation: Isolation


class _OutputPump:
    """Collects the agent's output: all of it into the log file, a capped share into events."""

    def __init__(self, log_path: Path, emit: Emit) -> None:
        self.log = log_path.open("wb")
        self.sha256 = hashlib.sha256()
        self.emit = emit
        self.pending: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
        self.total = 0
        self.shown = 0
        self.is_capped = False

    def feed(self, stream: str, chunk: bytes) -> None:
        self.log.write(chunk)
        self.sha256.update(chunk)
        self.total += len(chunk)
        self.pending[stream] += chunk

    async def flush(self, final: bool = False) -> None:
        for stream, buffer in self.pending.items():
            if not buffer:
                continue
            # Send whole lines while running; the last partial line goes out at the end.
            cut = len(buffer) if final else buffer.rfind(b"\n") + 1
            if cut <= 0 and len(buffer) < MAX_EVENT_CHUNK_BYTES:
                continue
            cut = cut if cut > 0 else len(buffer)
            data = bytes(buffer[:cut])
            del buffer[:cut]
            await self._send(stream, data)

    async def _send(self, stream: str, data: bytes) -> None:
        for start in range(0, len(data), MAX_EVENT_CHUNK_BYTES):
            piece = data[start : start + MAX_EVENT_CHUNK_BYTES]
            if self.shown + len(piece) > MAX_EVENT_OUTPUT_BYTES:
                if not self.is_capped:
                    self.is_capped = True
                    await self.emit(
                        stream,
                        f"[midcore: output beyond {MAX_EVENT_OUTPUT_BYTES} bytes is not streamed; "
                        "the whole output is kept in the run's output log]",
                        True,
                    )
                return
            self.shown += len(piece)
            await self.emit(stream, piece.decode("utf-8", errors="replace"), False)

    def close(self) -> None:
        self.log.close()


def render_argv(command: list[str], task: str) -> list[str]:
    return [part.replace("{task}", task) for part in command]


async def run_command_agent(
    *,
    command: list[str],
    task: str,
    extra_env: dict[str, str],
    network: bool,
    workspace: Path,
    run_dir: Path,
    run_id: str,
    timeout_seconds: float,
    sandbox: SandboxMode,
    limits: ResourceLimits,
    hidden: list[Path],
    emit: Emit,
    on_start: Callable[[int], None] | None = None,
) -> AgentOutcome:
    home = run_dir / "home"
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    argv, isolation = wrap(
        render_argv(command, task),
        mode=sandbox,
        workspace=workspace,
        home=home,
        network=network,
        hidden=hidden,
    )
    env = build_env(
        {
            **extra_env,
            "HOME": str(home),
            "TMPDIR": str(home / "tmp"),
            "MIDCORE_TASK": task,
            "MIDCORE_RUN_ID": run_id,
        }
    )
    pump = _OutputPump(run_dir / "agent-output.log", emit)
    stop_flushing = asyncio.Event()

    async def flusher() -> None:
        while not stop_flushing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_flushing.wait(), FLUSH_SECONDS)
            await pump.flush()

    flushing = asyncio.create_task(flusher())
    started = time.monotonic()
    try:
        result = await run_process(
            argv,
            cwd=workspace,
            env=env,
            timeout_seconds=max(0.0, timeout_seconds),
            limits=limits,
            on_start=on_start,
            on_output=pump.feed,
        )
    finally:
        stop_flushing.set()
        await flushing
        await pump.flush(final=True)
        pump.close()
    return AgentOutcome(
        exit_code=result.returncode,
        is_timed_out=result.is_timed_out,
        duration_seconds=time.monotonic() - started,
        transcript_sha256=pump.sha256.hexdigest(),
        output_bytes=pump.total,
        isolation=isolation,
    )
