"""What every command shares: one-line errors on stderr, JSON for scripts, rich for people."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

# Exit codes: 0 success, 1 a failed check (gate, verification, run), 2 bad usage or configuration.
EXIT_FAILED = 1
EXIT_USAGE = 2


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """Stop the command with one line on stderr."""
    sys.stderr.write(f"midcore: error: {message}\n")
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
