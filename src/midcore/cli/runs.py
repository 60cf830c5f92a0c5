"""`midcore runs`: list, show, cancel and follow runs on a Midcore server, through the client."""

from __future__ import annotations

from itertools import islice

import typer
from rich.markup import escape

from midcore.cli import remote
from midcore.cli.output import console, err_console, print_json

app = typer.Typer(help="Runs on a Midcore server (--server or MIDCORE_URL).", no_args_is_help=True)

_SERVER = typer.Option(None, "--server", help=remote.SERVER_HELP)
_API_KEY = typer.Option(None, "--api-key", help=remote.API_KEY_HELP, envvar="MIDCORE_API_KEY")
_JSON = typer.Option(False, "--json", help="Print JSON.")


@app.command("list")
def list_runs(
    status: list[str] | None = typer.Option(
        None, "--status", help="Only this status (repeatable)."
    ),
    limit: int = typer.Option(20, "--limit", min=1, help="At most this many runs, newest first."),
    server: str | None = _SERVER,
    api_key: str | None = _API_KEY,
    as_json: bool = _JSON,
) -> None:
    """List runs, newest first."""
    with remote.errors(), remote.client(server, api_key) as midcore:
        runs = list(islice(midcore.runs.list(status=status or None), limit))
    if as_json:
        print_json([remote.dump(run) for run in runs])
        return
    if not runs:
        err_console.print("no runs")
        return
    # Plain columns that never wrap or cut: ids and times are copied from here.
    console.print(
        f"{'run':<26}  {'status':<10}  {'created':<19}  {'reason':<20}  task",
        highlight=False, soft_wrap=True,
    )  # fmt: skip
    for run in runs:
        colour = remote.STATUS_STYLE.get(run.status, "yellow")
        task = run.task.splitlines()[0][:60] if run.task else ""
        console.print(
            f"{run.id:<26}  [{colour}]{run.status:<10}[/{colour}]  "
            f"{run.created_at.strftime('%Y-%m-%d %H:%M:%S')}  {run.status_reason or '-':<20}  "
            f"{escape(task)}",
            highlight=False, soft_wrap=True,
        )  # fmt: skip


@app.command("show")
def show(
    run_id: str = typer.Argument(..., help="The run's id."),
    server: str | None = _SERVER,
    api_key: str | None = _API_KEY,
    as_json: bool = _JSON,
) -> None:
    """Show one run: its state, budget, gate verdicts and evidence."""
    with remote.errors(), remote.client(server, api_key) as midcore:
        run = midcore.runs.get(run_id)
    if as_json:
        print_json(remote.dump(run))
        return
    colour = remote.STATUS_STYLE.get(run.status, "yellow")
    lines = [
        f"run       {run.id}",
        f"status    [{colour}]{run.status}[/{colour}]"
        + (f" ({run.status_reason})" if run.status_reason else ""),
        f"task      {escape(run.task)}",
        f"session   {run.session_id}",
        f"workspace {run.workspace.get('path') or run.workspace.get('git') or ''}",
        f"created   {run.created_at.isoformat()}",
    ]
    if run.finished_at:
        lines.append(f"finished  {run.finished_at.isoformat()}")
    used = f"{run.budget_used_seconds:.1f}" if run.budget_used_seconds is not None else "-"
    lines.append(f"budget    {used} of {run.budget_seconds} s")
    if run.patch_sha256:
        lines.append(f"patch     sha256:{run.patch_sha256}")
    for gate in run.gate_verdicts:
        style = remote.VERDICT_STYLE.get(gate.verdict, "yellow") if gate.required else "yellow"
        optional = "" if gate.required else " (optional)"
        lines.append(f"gate      {gate.name}: [{style}]{gate.verdict}[/{style}]{optional}")
    for entry_id in run.evidence_entry_ids:
        lines.append(f"evidence  {entry_id}")
    for line in lines:
        console.print(line, markup=True, highlight=False, soft_wrap=True)


@app.command("cancel")
def cancel(
    run_id: str = typer.Argument(..., help="The run's id."),
    server: str | None = _SERVER,
    api_key: str | None = _API_KEY,
    as_json: bool = _JSON,
) -> None:
    """Cancel a queued or running run."""
    with remote.errors(), remote.client(server, api_key) as midcore:
        run = midcore.runs.cancel(run_id)
    if as_json:
        print_json(remote.dump(run))
    else:
        err_console.print(f"run {run.id}: {run.status}", highlight=False)


@app.command("follow")
def follow(
    run_id: str = typer.Argument(..., help="The run's id."),
    after: int = typer.Option(0, "--after", min=0, help="Start after this event seq."),
    server: str | None = _SERVER,
    api_key: str | None = _API_KEY,
    as_json: bool = typer.Option(
        False, "--json", help="Print each event as one JSON line (the server's own payload)."
    ),
) -> None:
    """Show a run live until it ends; exit 0 if it succeeded, 1 otherwise."""
    with remote.errors(), remote.client(server, api_key) as midcore:
        run = remote.follow_run(midcore, run_id, show="json" if as_json else "human", after=after)
    remote.exit_with(run, as_json)
