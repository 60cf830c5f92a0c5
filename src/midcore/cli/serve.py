"""`midcore serve`: the API server on the configured database (SQLite by default)."""

from __future__ import annotations

import typer

from midcore.config import Settings


def serve(
    host: str | None = typer.Option(None, help="Address to listen on [MIDCORE_HOST]."),
    port: int | None = typer.Option(
        None, min=1, max=65535, help="Port to listen on [MIDCORE_PORT]."
    ),
) -> None:
    """Start the API server (migrates and bootstraps the embedded database on first start)."""
    import uvicorn

    from midcore.app import create_app

    settings = Settings()
    settings = settings.model_copy(
        update={"host": host or settings.host, "port": port or settings.port}
    )
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=False,
        server_header=False,
        # Open event streams must not hold a stopping server (and its runs) forever.
        timeout_graceful_shutdown=5,
    )
