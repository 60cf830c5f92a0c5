"""`midcore evidence list|show|checkpoint|export`: the ledger of a Midcore server, via the client.

`verify` (in cli/evidence.py) works offline on the pack that `export` downloads.
"""

from __future__ import annotations

from datetime import datetime
from itertools import islice
from pathlib import Path

import typer

from midcore.cli import remote
from midcore.cli.output import console, err_console, print_json

_SERVER = typer.Option(None, "--server", help=remote.SERVER_HELP)
_API_KEY = typer.Option(None, "--api-key", help=remote.API_KEY_HELP, envvar="MIDCORE_API_KEY")
_JSON = typer.Option(False, "--json", help="Print JSON.")
_KIND = typer.Option(None, "--kind", help="gate, run or other.")
_RUN = typer.Option(None, "--run-id", help="Entries of this run.")
_GATE = typer.Option(None, "--gate", help="Entries of this gate.")
_WORKSPACE = typer.Option(None, "--workspace", help="Entries of this workspace.")
_SINCE = typer.Option(None, "--since", help="Entries at or after (ISO 8601 with a time zone).")
_UNTIL = typer.Option(None, "--until", help="Entries before (ISO 8601 with a time zone).")


def list_entries(
    kind: str | None = _KIND,
    run_id: str | None = _RUN,
    gate: str | None = _GATE,
    workspace: str | None = _WORKSPACE,
    since: datetime | None = _SINCE,
    until: datetime | None = _UNTIL,
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many entries."),
    server: str | None = _SERVER,
    api_key: str | None = _API_KEY,
    as_json: bool = _JSON,
) -> None:
    """List ledger entries on the server."""
    with remote.errors(), remote.client(server, api_key) as midcore:
        entries = list(
            islice(
                midcore.evidence.list(
                    kind=kind, run_id=run_id, gate=gate, workspace=workspace,
                    since=since, until=until,
                ),
                limit,
            )
        )  # fmt: skip
    if as_json:
        print_json([remote.dump(entry) for entry in entries])
        return
    if not entries:
        err_console.print("no entries")
        return
    # Plain columns that never wrap or cut: ids are copied from here.
    console.print(
        f"{'index':>5}  {'entry':<26}  {'kind':<5}  {'created':<19}  {'result':<9}  gate or run",
        highlight=False, soft_wrap=True, markup=False,
    )  # fmt: skip
    for entry in entries:
        console.print(
            f"{entry.log_index:>5}  {entry.id:<26}  {entry.kind:<5}  "
            f"{entry.created_at.strftime('%Y-%m-%d %H:%M:%S')}  {entry.result or '-':<9}  "
            f"{entry.gate or entry.run_id or '-'}",
            highlight=False, soft_wrap=True, markup=False,
        )  # fmt: skip


def show_entry(
    entry_id: str = typer.Argument(..., help="The entry's id."),
    server: str | None = _SERVER,
    api_key: str | None = _API_KEY,
    as_json: bool = _JSON,
) -> None:
    """Show one entry with its inclusion proof against the latest checkpoint."""
    with remote.errors(), remote.client(server, api_key) as midcore:
        proven = midcore.evidence.get(entry_id)
    if as_json:
        print_json(remote.dump(proven))
        return
    entry, inclusion = proven.entry, proven.inclusion
    lines = [
        f"entry      {entry.id}",
        f"index      {entry.log_index} of {inclusion.tree_size}",
        f"kind       {entry.kind} ({entry.predicate_type})",
        f"subject    sha256:{entry.subject_digest.sha256 or '-'} "
        f"gitCommit:{entry.subject_digest.git_commit or '-'}",
        f"key        {entry.key_id}",
        f"created    {entry.created_at.isoformat()}",
        f"proof      {len(inclusion.hashes)} hashes",
    ]
    for label, value in (("gate", entry.gate), ("run", entry.run_id), ("result", entry.result)):
        if value:
            lines.insert(3, f"{label:<10} {value}")
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def checkpoint(
    server: str | None = _SERVER,
    api_key: str | None = _API_KEY,
    as_json: bool = _JSON,
) -> None:
    """Print the log's latest signed checkpoint (a C2SP signed note) and its keys."""
    with remote.errors(), remote.client(server, api_key) as midcore:
        signed = midcore.evidence.checkpoint()
    if as_json:
        print_json(remote.dump(signed))
        return
    console.print(signed.checkpoint.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
    for key in signed.note_keys:
        err_console.print(f"key {key}", markup=False, highlight=False, soft_wrap=True)


def export(
    path: Path = typer.Argument(..., help="Where to write the pack (zip)."),
    kind: str | None = _KIND,
    run_id: str | None = _RUN,
    gate: str | None = _GATE,
    workspace: str | None = _WORKSPACE,
    since: datetime | None = _SINCE,
    until: datetime | None = _UNTIL,
    server: str | None = _SERVER,
    api_key: str | None = _API_KEY,
    as_json: bool = _JSON,
) -> None:
    """Download an evidence pack; check it offline with `midcore evidence verify PATH`."""
    with remote.errors(), remote.client(server, api_key) as midcore:
        written = midcore.evidence.export_pack(
            path, kind=kind, run_id=run_id, gate=gate, workspace=workspace,
            since=since, until=until,
        )  # fmt: skip
    size = written.stat().st_size
    if as_json:
        print_json({"path": str(written), "bytes": size})
    else:
        err_console.print(f"wrote {written} ({size} bytes)", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the remote commands to the `midcore evidence` group."""
    app.command("list")(list_entries)
    app.command("show")(show_entry)
    app.command("checkpoint")(checkpoint)
    app.command("export")(export)
