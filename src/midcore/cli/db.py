"""`midcore db`: schema migrations."""

from __future__ import annotations

import asyncio

import typer

from midcore.config import Settings

app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from midcore import migrations
    from midcore.db import Database

    settings = Settings()
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)

    async def _run() -> str | None:
        database = Database(settings.resolved_database_url)
        try:
            await migrations.upgrade(database.engine, revision)
            return await migrations.current_revision(database.engine)
        finally:
            await database.dispose()

    current = asyncio.run(_run())
    typer.echo(f"database schema at revision {current}")


@app.command()
def current() -> None:
    """Print the schema revision of the database and the newest one this version ships."""
    from midcore import migrations
    from midcore.db import Database

    settings = Settings()

    async def _run() -> str | None:
        database = Database(settings.resolved_database_url)
        try:
            return await migrations.current_revision(database.engine)
        finally:
            await database.dispose()

    typer.echo(f"database: {asyncio.run(_run()) or 'empty'}; newest: {migrations.head_revision()}")
