"""`midcore run`: one run on the embedded engine in this process, shown live."""

from __future__ import annotations

import asyncio
import getpass
import shlex
from pathlib import Path
from typing import Any

import typer

from midcore.cli.output import EXIT_FAILED, EXIT_USAGE, console, err_console, fail, print_json
from midcore.config import Settings

_STYLE = {"succeeded": "green", "failed": "red", "timed_out": "red", "error": "red"}


def _show(event: dict[str, Any]) -> None:
    kind, data = event["type"], event["data"]
    if kind == "agent.output":
        text = data["text"].rstrip("\n")
        (err_console if data["stream"] == "stderr" else console).print(
            text, markup=False, highlight=False
        )
    elif kind == "run.state":
        err_console.print(f"[dim]· {data['from']} → {data['to']}[/dim]")
    elif kind == "gate.started":
        err_console.print(f"[dim]· gate {data['gate']} …[/dim]")
    elif kind == "gate.finished":
        colour = (
            "green" if data["verdict"] == "passed" else "yellow" if not data["required"] else "red"
        )
        err_console.print(
            f"· gate {data['name']}: [{colour}]{data['verdict']}[/{colour}] {data['reason']}"
        )


async def _run_locally(
    task: str,
    workspace: Path,
    command: list[str],
    budget: int,
    gates: list[str] | None,
    follow: bool,
) -> dict[str, Any]:
    from midcore.auth.principal import Principal
    from midcore.auth.roles import Role
    from midcore.embedded import embedded_tenant
    from midcore.evidence.service import build_evidence_service
    from midcore.runs import service
    from midcore.runs.endpoints import to_schema
    from midcore.runs.events import InProcessEventBus, event_payload, events_after
    from midcore.runs.executor import Executor
    from midcore.runs.schemas import RunCreate

    settings = Settings()
    # Naming the folder on the command line is the permission: this is the user's own machine.
    settings = settings.model_copy(
        update={"workspace_roots": [*settings.workspace_roots, workspace]}
    )
    async with embedded_tenant(settings) as (database, tenant_id):
        principal = Principal(tenant_id, Role.owner, f"cli:{getpass.getuser()}")
        body = RunCreate.model_validate(
            {
                "task": task,
                "workspace": {"path": str(workspace)},
                "agent": {"kind": "command", "command": command},
                "gates": gates,
                "budget_seconds": budget,
            }
        )
        async with database.session() as session:
            run, _ = await service.start_run(session, principal, body, settings, None)
        bus = InProcessEventBus()
        executor = Executor(database, settings, bus, build_evidence_service(settings))
        execution = asyncio.create_task(executor.execute(run.id))
        after = 0
        async with bus.subscribe(run.session_id) as subscription:
            while True:
                async with database.session() as session:
                    events = await events_after(session, principal.tenant_id, run.session_id, after)
                for event in events:
                    after = event.seq
                    if follow:
                        _show(event_payload(event))
                if not events and execution.done():
                    break
                await subscription.wait(0.5)
        await execution
        async with database.session() as session:
            final = await service.get_run(session, principal, run.id)
            return to_schema(final).model_dump(mode="json")


def run(
    task: str = typer.Argument(..., help="What the agent should do."),
    workspace: Path = typer.Option(
        Path("."), "--workspace", "-w", help="Folder to work on (a private copy is used)."
    ),
    agent_command: str = typer.Option(
        ...,
        "--agent-command",
        "-a",
        help="The agent's command line; {task} is replaced by the task.",
    ),
    budget: int = typer.Option(
        600, "--budget", min=1, help="Time budget for the whole run, in seconds."
    ),
    gate: list[str] | None = typer.Option(None, "--gate", help="Run only this gate (repeatable)."),
    no_gates: bool = typer.Option(False, "--no-gates", help="Run no gates."),
    follow: bool = typer.Option(
        True, "--follow/--quiet", help="Show the agent's output and progress live."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the finished run as JSON."),
    server: str | None = typer.Option(
        None, "--server", help="Run on this Midcore server instead of here (or MIDCORE_URL)."
    ),
    api_key: str | None = typer.Option(
        None, "--api-key", envvar="MIDCORE_API_KEY", help="API key for --server."
    ),
    idempotency_key: str | None = typer.Option(
        None, "--idempotency-key", help="With a server: the same key never starts a second run."
    ),
    detach: bool = typer.Option(
        False, "--detach", help="With a server: print the run's id and return without waiting."
    ),
) -> None:
    """Run an agent on a workspace and judge the result with the gates; exit 0 if it succeeded.

    Here on the embedded engine, or on a server with --server (or MIDCORE_URL).
    """
    from midcore.cli import remote

    if remote.server_url(server) is not None:
        remote.run_on_server(
            remote.RunRequest(
                task=task,
                workspace=workspace,
                agent_command=agent_command,
                budget=budget,
                gates=[] if no_gates else (gate or None),
                idempotency_key=idempotency_key,
            ),
            server=server,
            api_key=api_key,
            follow=follow,
            as_json=as_json,
            detach=detach,
        )
        return
    if idempotency_key is not None or detach:
        fail("--idempotency-key and --detach need a server (--server or MIDCORE_URL)", EXIT_USAGE)
    if not workspace.is_dir():
        fail(f"workspace {workspace} is not a folder", EXIT_USAGE)
    try:
        command = shlex.split(agent_command)
    except ValueError as exc:
        fail(f"--agent-command: {exc}", EXIT_USAGE)
    if not command:
        fail("--agent-command is empty", EXIT_USAGE)
    gates = [] if no_gates else (gate or None)
    result = asyncio.run(
        _run_locally(task, workspace.resolve(), command, budget, gates, follow and not as_json)
    )
    if as_json:
        print_json(result)
    else:
        status = result["status"]
        colour = _STYLE.get(status, "yellow")
        err_console.print(
            f"run {result['id']}: [{colour}]{status}[/{colour}] ({result['status_reason']})"
        )
    if result["status"] != "succeeded":
        raise typer.Exit(EXIT_FAILED)
