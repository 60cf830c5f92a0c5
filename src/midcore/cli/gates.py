"""`midcore gates`: run the workspace's gates and report whether the change may go in."""

from __future__ import annotations

import asyncio
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from midcore.cli.output import EXIT_FAILED, EXIT_USAGE, console, err_console, fail, print_json
from midcore.config import Settings
from midcore.errors import ConfigurationError
from midcore.gates.models import GateResult, GateSetResult, Verdict
from midcore.gates.readiness import Readiness, readiness
from midcore.gates.reports import to_junit_xml, to_sarif_json
from midcore.gates.runner import RunOptions, load_gate_set, open_workspace, run_gates

app = typer.Typer(
    help="Run the gates of a workspace and report their verdicts.", no_args_is_help=True
)

_STYLE = {
    Verdict.passed: "green",
    Verdict.failed: "red",
    Verdict.error: "red",
    Verdict.skipped: "dim",
    Verdict.unavailable: "yellow",
}
_DETAIL_LIMIT = 10


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def _names(values: list[str] | None) -> list[str]:
    return [n.strip() for v in values or [] for n in v.split(",") if n.strip()]


def _workspace_path(path: Path) -> Path:
    if not path.is_dir():
        fail(f"{path}: not a directory", EXIT_USAGE)
    return path.resolve()


class _Progress:
    """The live table: one row per gate, a spinner while it runs, its verdict when done."""

    def __init__(self, names: list[str]) -> None:
        self.rows: dict[str, tuple[str, float, GateResult | None]] = {
            n: ("pending", 0.0, None) for n in names
        }

    def update(self, event: str, name: str, result: GateResult | None) -> None:
        if event == "started":
            self.rows[name] = ("running", time.monotonic(), None)
        else:
            self.rows[name] = ("done", self.rows[name][1], result)

    def __rich__(self) -> Group:
        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        for column in ("gate", "status", "time", "reason"):
            table.add_column(column)
        done = 0
        for name, (state, started, result) in self.rows.items():
            if result is not None:
                done += 1
                table.add_row(name, *_verdict_cells(result))
            elif state == "running":
                spinner = Spinner("dots", text="running", style="cyan")
                table.add_row(name, spinner, f"{time.monotonic() - started:.1f}s", "")
            else:
                table.add_row(name, Text("pending", style="dim"), "", "")
        return Group(table, Text(f"{done}/{len(self.rows)} gates done", style="dim"))


def _verdict_cells(result: GateResult) -> tuple[Text, str, str]:
    label = result.verdict.value
    if result.warns:
        label += " (warning)"
    if result.is_cached:
        label += " (cached)"
    style = "yellow" if result.warns else _STYLE[result.verdict]
    return Text(label, style=style), f"{result.duration_seconds:.1f}s", result.reason


def _print_text(result: GateSetResult) -> None:
    table = Table(title=None, show_header=True, header_style="bold")
    for column in ("gate", "kind", "verdict", "time", "reason"):
        table.add_column(column, overflow="fold")
    for gate in result.gates:
        verdict, duration, reason = _verdict_cells(gate)
        name = gate.name if gate.required else f"{gate.name} (optional)"
        table.add_row(name, gate.kind, verdict, duration, reason)
    console.print(table)
    for gate in result.gates:
        if gate.verdict not in (Verdict.failed, Verdict.error) and not gate.is_warning:
            continue
        console.print(Text(f"{gate.name}: {gate.reason}", style="bold"))
        bad = [t for t in gate.tests if t.outcome in ("failed", "error", "flaky")]
        for test in bad[:_DETAIL_LIMIT]:
            console.print(f"  {test.outcome}: {test.id}", markup=False, highlight=False)
        for finding in gate.findings[:_DETAIL_LIMIT]:
            where = f"{finding.path}:{finding.line}" if finding.line else finding.path or "change"
            console.print(
                f"  {where}: {finding.rule} {finding.message}", markup=False, highlight=False
            )
        hidden = max(0, len(bad) - _DETAIL_LIMIT) + max(0, len(gate.findings) - _DETAIL_LIMIT)
        if hidden:
            console.print(f"  … and {hidden} more (see --format json)")
        if gate.verdict is Verdict.error and gate.stderr_tail:
            console.print(Text(gate.stderr_tail, style="dim"))
    for warning in result.warnings:
        err_console.print(f"midcore: warning: {warning}", markup=False, highlight=False)
    summary = result.summary
    parts = [f"{summary[v.value]} {v.value}" for v in Verdict if summary[v.value]]
    if summary["cached"]:
        parts.append(f"{summary['cached']} cached")
    verdict = (
        Text("PASSED", style="bold green") if result.passed else Text("FAILED", style="bold red")
    )
    console.print(verdict, Text(f"{', '.join(parts)} in {result.duration_seconds:.1f}s"))


def _data_dir() -> Path:
    return Settings().data_dir.resolve()


@app.command("run")
def run(
    path: Annotated[Path, typer.Argument(help="Workspace directory.")] = Path("."),
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only these gates (a,b).")
    ] = None,
    skip: Annotated[
        list[str] | None, typer.Option("--skip", help="Do not run these gates.")
    ] = None,
    changed_since: Annotated[
        str | None,
        typer.Option("--changed-since", help="Run only gates whose paths changed since this ref."),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run every gate, ignore cached results.")
    ] = False,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text or json.")
    ] = OutputFormat.text,
    junit_xml: Annotated[
        Path | None, typer.Option("--junit-xml", help="Write a JUnit XML report.")
    ] = None,
    sarif: Annotated[
        Path | None, typer.Option("--sarif", help="Write a SARIF 2.1.0 report.")
    ] = None,
    no_evidence: Annotated[
        bool,
        typer.Option("--no-evidence", help="Do not append the verdicts to the local ledger."),
    ] = False,
) -> None:
    """Run the gates; exit 0 when every required gate passed, 1 when one failed, 2 on bad input."""
    root = _workspace_path(path)
    data_dir = _data_dir()
    options = RunOptions(
        data_dir=data_dir,
        only=_names(only),
        skip=_names(skip),
        changed_since=changed_since,
        use_cache=not no_cache,
    )
    try:
        if output_format is OutputFormat.json:
            result = asyncio.run(run_gates(root, options))
        else:
            # Load once up front so a bad config stops before the live display starts.
            names = [g.name for g in load_gate_set(open_workspace(root, data_dir)).gates]
            progress = _Progress(names)
            options.on_progress = progress.update
            with Live(progress, console=console, refresh_per_second=8, transient=True):
                result = asyncio.run(run_gates(root, options))
    except ConfigurationError as exc:  # bad config, unknown gate name, unusable ref
        fail(str(exc), EXIT_USAGE)
    if junit_xml is not None:
        _write(junit_xml, to_junit_xml(result))
    if sarif is not None:
        _write(sarif, to_sarif_json(result))
    evidence = None if no_evidence else _record_evidence(result)
    if output_format is OutputFormat.json:
        print_json({**result.to_json_dict(), "evidence": evidence})
    else:
        _print_text(result)
        if evidence:
            err_console.print(
                f"[dim]evidence: {len(evidence['entry_ids'])} statements appended to the local "
                f"ledger (size {evidence['tree_size']})[/dim]"
            )
    raise typer.Exit(result.exit_code)


def _record_evidence(result: GateSetResult) -> dict[str, Any] | None:
    """Append the verdicts to the embedded ledger of the data directory (default tenant)."""
    from midcore.embedded import embedded_tenant
    from midcore.evidence.service import NewEntry, build_evidence_service
    from midcore.gates.attestation import statements

    settings = Settings()
    names = [gate.name for gate in result.gates]
    items = [
        NewEntry(
            statement, gate=names[i] if i < len(names) else None, workspace=result.workspace.path
        )
        for i, statement in enumerate(statements(result))
    ]

    async def append() -> dict[str, Any]:
        async with embedded_tenant(settings) as (database, tenant_id):
            async with database.session() as session:
                service = build_evidence_service(settings)
                entries = await service.append_many(session, tenant_id, items)
            return {
                "entry_ids": [entry.id for entry in entries],
                "tree_size": entries[-1].log_index + 1 if entries else 0,
            }

    try:
        return asyncio.run(append())
    except Exception as exc:  # the verdicts stand; only their record failed
        err_console.print(f"midcore: warning: verdicts not recorded as evidence: {exc}")
        return None


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        err_console.print(f"midcore: error: cannot write {path}: {exc.strerror}")
        raise typer.Exit(EXIT_USAGE) from None


@app.command("readiness")
def readiness_command(
    path: Annotated[Path, typer.Argument(help="Workspace directory.")] = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Per gate: where it comes from, its tool, its last verdict and whether that is current."""
    try:
        report = readiness(_workspace_path(path), _data_dir())
    except ConfigurationError as exc:
        fail(str(exc), EXIT_USAGE)
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        _print_readiness(report)
    # Scripts can gate on readiness without parsing the output.
    raise typer.Exit(0 if report.ready else EXIT_FAILED)


def _print_readiness(report: Readiness) -> None:
    table = Table(show_header=True, header_style="bold")
    for column in ("gate", "source", "tool", "last verdict", "when", "commit", "state"):
        table.add_column(column, overflow="fold")
    for gate in report.gates:
        source = gate.source  # the detection reason is in --json (detected_because)
        if gate.tool is None:
            tool = Text("built in", style="dim")
        elif gate.is_tool_found:
            tool = Text(gate.tool.version or gate.tool.name)
        else:
            tool = Text(f"{gate.tool.name} missing", style="red")
        last = gate.last
        verdict = Text("—", style="dim")
        if last is not None:
            verdict = Text(last.verdict.value, style=_STYLE[last.verdict])
        when = last.finished_at.strftime("%m-%d %H:%M") if last and last.finished_at else ""
        commit = (last.git_commit or "")[:10] if last else ""
        state = gate.freshness + (", cached" if gate.is_cached else "")
        table.add_row(gate.name, source, tool, verdict, when, commit, state)
    console.print(table)
    if report.ready:
        console.print(Text("ready", style="bold green"))
    else:
        console.print(Text("not ready", style="bold red"))
        for reason in report.reasons:
            console.print(f"  {reason}", markup=False, highlight=False)
