"""What the remote commands share: a client from --server / MIDCORE_URL, errors, live run output."""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from midcore.cli.output import EXIT_FAILED, EXIT_USAGE, console, err_console, fail, print_json
from midcore.client import (
    AgentOutputEvent,
    AnyEvent,
    GateFinishedEvent,
    GateStartedEvent,
    Midcore,
    MidcoreError,
    Run,
    RunFinishedEvent,
    RunStateEvent,
    UnprocessableEntityError,
)

# A follow outlives long network trouble: it gives up only after this many failed reconnects.
FOLLOW_RECONNECTS = 30

SERVER_HELP = "URL of the Midcore server (default: MIDCORE_URL)."
API_KEY_HELP = "API key (default: MIDCORE_API_KEY)."
VERDICT_STYLE = {"passed": "green", "failed": "red", "error": "red", "unavailable": "yellow"}
STATUS_STYLE = {"succeeded": "green", "failed": "red", "timed_out": "red", "error": "red"}


def server_url(server: str | None) -> str | None:
    return server or os.environ.get("MIDCORE_URL") or None


def client(server: str | None, api_key: str | None) -> Midcore:
    url = server_url(server)
    if url is None:
        fail("no server: pass --server URL or set MIDCORE_URL", EXIT_USAGE)
    return Midcore(url, api_key)


@contextmanager
def errors() -> Iterator[None]:
    """A client error becomes one line on stderr: exit 2 for a request the server found invalid."""
    try:
        yield
    except UnprocessableEntityError as exc:
        fail(_describe(exc), EXIT_USAGE)
    except MidcoreError as exc:
        fail(_describe(exc), EXIT_FAILED)


def _describe(exc: MidcoreError) -> str:
    if isinstance(exc, UnprocessableEntityError) and exc.errors:
        fields = "; ".join(
            f"{e.get('field') or e.get('location')}: {e.get('message')}" for e in exc.errors
        )
        return f"{exc.detail or 'invalid request'} ({fields})"
    return str(exc)


def dump(model: Any) -> Any:
    """What --json prints of a model: the server's own fields and names."""
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)


def print_json_line(data: Any) -> None:
    sys.stdout.write(json.dumps(data, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


def verdict_line(run: Run) -> str:
    colour = STATUS_STYLE.get(run.status, "yellow")
    reason = f" ({run.status_reason})" if run.status_reason else ""
    return f"run {run.id}: [{colour}]{run.status}[/{colour}]{reason}"


class _Renderer:
    """Agent output on stdout; states, gate progress (a bar on a terminal), verdicts on stderr."""

    def __init__(self, gate_count: int | None) -> None:
        self.progress: Progress | None = None
        self.task_id: Any = None
        self.gate_count = gate_count
        self.is_terminal = err_console.is_terminal

    def show(self, event: AnyEvent) -> None:
        if isinstance(event, AgentOutputEvent):
            text = event.data.text.rstrip("\n")
            target = err_console if event.data.stream == "stderr" else console
            target.print(text, markup=False, highlight=False)
        elif isinstance(event, RunStateEvent):
            self._note(f"[dim]· {event.data.from_} → {event.data.to}[/dim]")
        elif isinstance(event, GateStartedEvent):
            self._start_bar()
            if self.progress is not None:
                self.progress.update(self.task_id, description=f"gate {event.data.gate}")
            else:
                self._note(f"[dim]· gate {event.data.gate} …[/dim]")
        elif isinstance(event, GateFinishedEvent):
            gate = event.data
            colour = VERDICT_STYLE.get(gate.verdict, "yellow") if gate.required else "yellow"
            reason = f" {gate.reason}" if gate.reason else ""
            self._note(f"· gate {gate.name}: [{colour}]{gate.verdict}[/{colour}]{reason}")
            if self.progress is not None:
                self.progress.advance(self.task_id)
        elif isinstance(event, RunFinishedEvent):
            self.close()

    def _start_bar(self) -> None:
        if self.progress is not None or not self.is_terminal:
            return
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err_console,
            transient=True,
        )
        self.progress.start()
        self.task_id = self.progress.add_task("gates", total=self.gate_count)

    def _note(self, markup: str) -> None:
        (self.progress.console if self.progress else err_console).print(markup, highlight=False)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def follow_run(midcore: Midcore, run_id: str, *, show: str = "human", after: int = 0) -> Run:
    """Show a run's events after seq `after` until it ends; return the finished run.

    `show` is "human" (rendered), "json" (one event per line, as the server sent it) or "none".

    The client reopens a dropped stream where it stopped, so nothing is shown twice or lost.
    """
    run = midcore.runs.get(run_id)
    renderer = _Renderer(len(run.gates) if run.gates is not None else None)

    def reconnecting(last_seq: int, failure: Exception) -> None:
        if show != "none":
            err_console.print(
                f"[dim]· connection lost ({escape(str(failure))}); "
                f"resuming after event {last_seq}[/dim]",
                highlight=False,
            )

    try:
        for event in midcore.runs.stream(
            run.session_id, after=after, max_reconnects=FOLLOW_RECONNECTS,
            on_reconnect=reconnecting,
        ):  # fmt: skip
            if event.run_id != run_id:
                continue  # another run of the same session
            if show == "json":
                print_json_line(dump(event))
            elif show == "human":
                renderer.show(event)
            if isinstance(event, RunFinishedEvent):
                break
    finally:
        renderer.close()
    return midcore.runs.get(run_id)


def exit_with(run: Run, as_json: bool) -> None:
    """The verdict line (people) and the exit code by outcome: 0 succeeded, 1 otherwise."""
    if not as_json:
        err_console.print(verdict_line(run), highlight=False)
    if run.status != "succeeded":
        raise typer.Exit(EXIT_FAILED)


@dataclass
class RunRequest:
    task: str
    workspace: Path
    agent_command: str
    budget: int
    gates: list[str] | None
    idempotency_key: str | None


def run_on_server(
    request: RunRequest,
    *,
    server: str | None,
    api_key: str | None,
    follow: bool,
    as_json: bool,
    detach: bool,
) -> None:
    """`midcore run --server`: start the run there, show it live, exit by its outcome."""
    try:
        command = shlex.split(request.agent_command)
    except ValueError as exc:
        fail(f"--agent-command: {exc}", EXIT_USAGE)
    if not command:
        fail("--agent-command is empty", EXIT_USAGE)
    # The path is the server's: a relative one is taken as meant from here (the same machine).
    workspace = request.workspace
    path = str(workspace if workspace.is_absolute() else workspace.resolve())
    with errors(), client(server, api_key) as midcore:
        accepted = midcore.runs.create(
            request.task,
            path,
            command,
            gates=request.gates,
            budget_seconds=request.budget,
            idempotency_key=request.idempotency_key,
        )
        if detach:
            if as_json:
                print_json(dump(accepted))
            else:
                err_console.print(
                    f"run {accepted.run_id} {accepted.status}; "
                    f"follow it with: midcore runs follow {accepted.run_id}",
                    highlight=False,
                )
            return
        run = follow_run(
            midcore, accepted.run_id, show="human" if follow and not as_json else "none"
        )
    if as_json:
        print_json(dump(run))
    exit_with(run, as_json)
