"""`midcore admin`: tenants and keys, straight on the database (for operators of the server)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import typer

from midcore.auth.roles import Role
from midcore.cli.output import EXIT_USAGE, fail, print_json
from midcore.config import Settings

app = typer.Typer(
    help="Tenants, API keys and passwords, on the server's database.", no_args_is_help=True
)

T = TypeVar("T")


def _run_in_session(work: Callable[..., Awaitable[T]]) -> T:
    from midcore import migrations
    from midcore.db import Database

    settings = Settings()

    async def _run() -> T:
        database = Database(settings.resolved_database_url)
        try:
            if settings.should_auto_migrate:
                settings.data_dir.mkdir(parents=True, exist_ok=True)
                await migrations.upgrade(database.engine)
            async with database.session() as session:
                return await work(session)
        finally:
            await database.dispose()

    return asyncio.run(_run())


@app.command("create-tenant")
def create_tenant(
    slug: str = typer.Argument(..., help="Short name: lowercase letters, digits, dashes."),
    name: str | None = typer.Option(None, help="Display name (default: the slug)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create a tenant and an owner API key for it; the key is printed once."""
    from midcore.tenants.service import create_tenant_with_owner_key

    async def work(session: object) -> tuple[str, str, str]:
        tenant, api_key, plaintext = await create_tenant_with_owner_key(session, slug, name)  # type: ignore[arg-type]
        return tenant.id, api_key.id, plaintext

    tenant_id, key_id, plaintext = _run_in_session(work)
    if as_json:
        print_json({"tenant_id": tenant_id, "slug": slug, "api_key_id": key_id, "key": plaintext})
    else:
        typer.echo(f"tenant {slug} ({tenant_id}) created; owner API key (shown only now):")
        typer.echo(plaintext)


@app.command("create-key")
def create_key(
    tenant: str = typer.Option(..., help="Tenant slug."),
    role: Role = typer.Option(..., help="Role of the key."),
    name: str = typer.Option("cli", help="A name to recognise the key by."),
    expires_in_days: int | None = typer.Option(
        None, min=1, max=36500, help="Expire after this many days."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create an API key in a tenant; the key is printed once."""
    from midcore.auth.service import create_key as create
    from midcore.db import utcnow
    from midcore.tenants.repository import TenantRepository

    async def work(session: object) -> tuple[str, str] | None:
        found = await TenantRepository(session).get_by_slug(tenant)  # type: ignore[arg-type]
        if found is None:
            return None
        expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
        api_key, plaintext = await create(
            session,  # type: ignore[arg-type]
            tenant_id=found.id,
            name=name,
            role=role,
            created_by="midcore admin",
            expires_at=expires_at,
        )
        return api_key.id, plaintext

    created = _run_in_session(work)
    if created is None:
        fail(f"no tenant {tenant!r} (see 'midcore admin create-tenant')", EXIT_USAGE)
    key_id, plaintext = created
    if as_json:
        print_json({"tenant": tenant, "role": role.value, "api_key_id": key_id, "key": plaintext})
    else:
        typer.echo(f"{role.value} key {key_id} for tenant {tenant} (shown only now):")
        typer.echo(plaintext)


@app.command("set-password")
def set_password(
    email: str = typer.Argument(..., help="The user's email (they must already be a member)."),
) -> None:
    """Set a user's sign-in password, read from standard input or a prompt; ends their sessions."""
    import sys

    from midcore.auth.sessions import set_password as store

    if sys.stdin.isatty():
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    else:
        # One line from a pipe: `printf '%s\n' "$PASSWORD" | midcore admin set-password EMAIL`.
        password = sys.stdin.readline().rstrip("\r\n")
    settings = Settings()

    async def work(session: object) -> str:
        user = await store(session, email, password, settings)  # type: ignore[arg-type]
        return user.id

    user_id = _run_in_session(work)
    typer.echo(f"password set for {email} ({user_id}); their sessions have ended")
