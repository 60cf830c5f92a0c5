"""`midcore evidence`: work with the evidence ledger; `verify` runs offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from midcore.cli.output import EXIT_FAILED, EXIT_USAGE, console, fail, print_json
from midcore.evidence.note import NoteError, NoteVerifier
from midcore.evidence.verify import PackUnreadable, parse_trusted_key, verify_pack

app = typer.Typer(help="Query, export and verify the evidence ledger.", no_args_is_help=True)


def _trusted_key(value: str) -> NoteVerifier | bytes:
    path = Path(value)
    try:
        text = path.read_text() if path.is_file() else value
        return parse_trusted_key(text)
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read key {value}: {exc}", EXIT_USAGE)
    except (NoteError, ValueError) as exc:
        fail(f"--key: {getattr(exc, 'detail', exc)}", EXIT_USAGE)


def _say(text: str) -> None:
    # Keys and hashes must stay on one line, whatever the terminal width.
    console.print(text, soft_wrap=True, highlight=False)


@app.command("verify")
def verify(
    pack: Annotated[Path, typer.Argument(help="The evidence pack (zip).")],
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="The log's trusted public key: a note key (name+id+key), base64 Ed25519, PEM, "
            "or a file holding one of these.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Verify a pack offline: signatures, inclusion proofs, checkpoint, completeness, counts."""
    trusted = _trusted_key(key) if key is not None else None
    try:
        result = verify_pack(pack, trusted_key=trusted)
    except PackUnreadable as exc:
        fail(f"{pack}: {exc.detail}", EXIT_USAGE)
    if as_json:
        print_json(result.to_json())
    if result.failure is not None:
        fail(f"{pack}: verification failed: {result.failure}", EXIT_FAILED)
    if as_json:
        return
    counts = ", ".join(f"{kind} {count}" for kind, count in result.counts.items()) or "none"
    _say(f"[green]OK[/green] {pack}")
    _say(f"  log        {result.origin}")
    _say(f"  tree size  {result.tree_size}   root {result.root_sha256}")
    _say(f"  entries    {result.entries_checked} verified ({counts})")
    _say(f"  complete   {'yes' if result.is_complete else 'not provable (filtered)'}")
    pinned = "pinned" if result.is_key_pinned else "NOT pinned"
    _say(f"  signed by  {result.checkpoint_key} ({pinned})")
    for note in result.notes:
        _say(f"  [yellow]note[/yellow]: {note}")
