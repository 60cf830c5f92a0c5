"""`midcore voice`: transcribe a recording here, with the configured backend."""

from __future__ import annotations

from pathlib import Path

import typer

from midcore.cli.output import EXIT_USAGE, console, fail, print_json
from midcore.config import Settings

app = typer.Typer(help="Voice transcription.", no_args_is_help=True)


@app.command("transcribe")
def transcribe(
    file: Path = typer.Argument(..., help="A recording: WAV, FLAC, OGG (MP3, WebM with ffmpeg)."),
    backend: str | None = typer.Option(
        None, help="Another allowed backend than the configured one."
    ),
    language: str | None = typer.Option(None, help="ISO 639-1 code, when known."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Print the text of FILE and the command it states, if any (nothing is started)."""
    # Imported here: the audio libraries would slow every other command's start.
    from midcore.voice.service import transcribe as run

    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}", EXIT_USAGE)
    result = run(data, Settings(), backend=backend, language=language)
    if as_json:
        print_json(result.model_dump())
        return
    console.print(result.text or "[dim](no speech recognised)[/dim]", highlight=False)
    if result.intent:
        details = ", ".join(f"{k}={v}" for k, v in result.intent.items() if k != "action")
        console.print(f"[bold]command[/bold] {result.intent['action']} {details}".rstrip())
    console.print(
        f"[dim]{result.duration_seconds:.1f} s of audio, {result.backend}[/dim]", highlight=False
    )
