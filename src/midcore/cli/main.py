"""The `midcore` command: one Typer app, one module per command group."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from midcore import __version__

try:  # newer typer releases vendor click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover
    from click import exceptions as click_exceptions  # type: ignore[no-redef]
from midcore.cli import admin, db, evidence, evidence_remote, gates, runs, serve, voice
from midcore.cli import run as run_command
from midcore.cli.output import EXIT_USAGE
from midcore.errors import ConfigurationError, MidcoreError

app = typer.Typer(
    name="midcore",
    help="Run AI coding agents from scripts and CI, judged by gates, recorded as evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("serve")(serve.serve)
app.command("run")(run_command.run)
app.add_typer(db.app, name="db")
app.add_typer(admin.app, name="admin")
app.add_typer(gates.app, name="gates")
evidence_remote.register(evidence.app)
app.add_typer(evidence.app, name="evidence")
app.add_typer(runs.app, name="runs")
app.add_typer(voice.app, name="voice")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"midcore {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Midcore command line."""


def _validation_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    if exc.title == "Settings":  # from the environment
        name = "MIDCORE_" + "_".join(str(part) for part in first["loc"]).upper()
        return f"invalid setting {name}: {first['msg']}{more}"
    field = ".".join(str(part) for part in first["loc"]) or "input"
    return f"invalid {field}: {first['msg']}{more}"


def main(argv: list[str] | None = None) -> None:
    """Entry point: usage and configuration errors become one line on stderr and exit 2."""
    try:
        result = app(args=argv, standalone_mode=False)
    except click_exceptions.NoArgsIsHelpError as exc:
        ctx = exc.ctx
        if ctx is not None:
            typer.echo(ctx.get_help())
        sys.exit(EXIT_USAGE)
    except click_exceptions.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "midcore"
        hint = f" (see '{command} --help')"
        message = " ".join(exc.format_message().split())
        sys.stderr.write(f"midcore: error: {message}{hint}\n")
        sys.exit(EXIT_USAGE)
    except click_exceptions.ClickException as exc:
        sys.stderr.write(f"midcore: error: {exc.format_message()}\n")
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("midcore: aborted\n")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except ValidationError as exc:
        sys.stderr.write(f"midcore: error: {_validation_problem(exc)}\n")
        sys.exit(EXIT_USAGE)
    except ConfigurationError as exc:
        sys.stderr.write(f"midcore: error: {exc}\n")
        sys.exit(EXIT_USAGE)
    except MidcoreError as exc:
        sys.stderr.write(f"midcore: error: {exc.detail}\n")
        # Input the command was given is a usage error; anything else failed.
        sys.exit(EXIT_USAGE if exc.status in (400, 422) else 1)
    sys.exit(result if isinstance(result, int) else 0)
