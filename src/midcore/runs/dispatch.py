"""Handing runs to an executor. The embedded default runs them in this process, a bounded number
at a time; a distributed dispatcher (workers) implements the same two methods."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from midcore.runs.executor import Executor

logger = logging.getLogger("midcore.dispatch")


class Dispatcher(Protocol):
    def dispatch(self, run_id: str) -> None:
        """Queue the run for execution; called only after the run's row has committed."""

    def cancel(self, run_id: str) -> None:
        """Tell whoever executes the run to stop it now; called after the cancel committed."""


class InlineDispatcher:
    def __init__(self, executor: Executor, max_concurrent_runs: int) -> None:
        self.executor = executor
        self.slots = asyncio.Semaphore(max_concurrent_runs)
        self.tasks: set[asyncio.Task[None]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()

    def dispatch(self, run_id: str) -> None:
        assert self.loop is not None, "dispatcher not started"
        self.loop.call_soon_threadsafe(self._spawn, run_id)

    def _spawn(self, run_id: str) -> None:
        task = asyncio.ensure_future(self._execute(run_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _execute(self, run_id: str) -> None:
        async with self.slots:
            try:
                await self.executor.execute(run_id)
            except Exception:
                logger.exception("run %s could not be executed", run_id)

    def cancel(self, run_id: str) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.executor.request_cancel, run_id)

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
