"""Tenant isolation, walked over every operation in the OpenAPI schema.

Tenant "acme" (the victim) owns objects; tenant "globex" (the caller) uses its own owner
credentials, an API key or a browser session, against acme's object ids. Every operation with a
path parameter must answer 404 (or 403 where a role limit comes first), never 2xx and never
500; an operation without one must not show any of acme's ids. New routes are walked as soon as
they are in the schema: give their path parameter a victim object in VICTIM_OBJECTS below (until
then it gets an id that exists nowhere, and the test says so).
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from midcore.auth.roles import Role
from midcore.ids import new_id
from tests.conftest import TenantKeys, add_user, sign_in
from tests.openapi_probe import Operation, operations

VICTIM_EMAIL = "victim@acme.test"


@dataclass
class Victim:
    tenant: TenantKeys
    user_id: str


# Path parameter name -> how to get the id of an object acme owns. Extend for new routes.
VICTIM_OBJECTS: dict[str, Callable[[FastAPI, Victim], Awaitable[str]]] = {}


def victim_object(
    name: str,
) -> Callable[
    [Callable[[FastAPI, Victim], Awaitable[str]]], Callable[[FastAPI, Victim], Awaitable[str]]
]:
    def register(
        factory: Callable[[FastAPI, Victim], Awaitable[str]],
    ) -> Callable[[FastAPI, Victim], Awaitable[str]]:
        VICTIM_OBJECTS[name] = factory
        return factory

    return register


@victim_object("key_id")
async def _api_key(_app: FastAPI, victim: Victim) -> str:
    return victim.tenant.key_ids[Role.viewer]


@victim_object("user_id")
async def _member(_app: FastAPI, victim: Victim) -> str:
    return victim.user_id


async def _victim_run(app: FastAPI, victim: Victim) -> tuple[str, str]:
    """A queued run of acme's (never dispatched, so it stays put while the matrix walks)."""
    from midcore.auth.principal import Principal
    from midcore.runs.schemas import RunCreate
    from midcore.runs.service import start_run

    settings = app.state.settings
    workspace = settings.workspace_roots[0] / "victim"
    workspace.mkdir(parents=True, exist_ok=True)
    body = RunCreate.model_validate(
        {
            "task": "victim",
            "workspace": {"path": str(workspace)},
            "agent": {"kind": "command", "command": ["true"]},
        }
    )
    principal = Principal(victim.tenant.tenant_id, Role.owner, "test")
    async with app.state.db.session() as session:
        run, _ = await start_run(session, principal, body, settings, None)
        return run.id, run.session_id


@victim_object("run_id")
async def _run(app: FastAPI, victim: Victim) -> str:
    return (await _victim_run(app, victim))[0]


@victim_object("session_id")
async def _session(app: FastAPI, victim: Victim) -> str:
    return (await _victim_run(app, victim))[1]


@victim_object("entry_id")
async def _evidence_entry(app: FastAPI, victim: Victim) -> str:
    from midcore.evidence import statements

    statement = statements.statement(
        [statements.subject("victim", sha256="0" * 64)],
        statements.RUN_PREDICATE,
        {"runId": "victim"},
    )
    async with app.state.db.session() as session:
        entry = await app.state.evidence_service.append(session, victim.tenant.tenant_id, statement)
        return str(entry.id)


async def _discover_victim_objects(
    client: httpx.AsyncClient,
    schema: dict[str, object],
    tenant: TenantKeys,
    ids: dict[str, str],
) -> None:
    """For a path parameter with no factory, try the POST that answers a field of that name
    (POST /runs answering `run_id`, say) with a request built from the schema, as acme's owner."""
    all_operations = list(operations(schema))
    wanted = {p for op in all_operations for p in op.path_params} - set(ids)
    for name in sorted(wanted):
        for op in all_operations:
            if op.method != "POST" or op.path_params or name not in op.answers_fields:
                continue
            response = await client.post(
                op.path, params=op.query, json=op.json_body, headers=tenant.headers(Role.owner)
            )
            if response.is_success and isinstance(response.json().get(name), str):
                ids[name] = response.json()[name]
                break


_ENDS_SESSION = ("/auth/logout", "/auth/sessions/revoke-all")


def _ordered(schema: dict[str, object]) -> list[Operation]:
    """Operations on acme's objects first: the others may create things in globex (adding
    acme's member to globex, say) that would make acme's ids globex's too. Last, those that end
    the caller's own session, which every other operation needs."""
    return sorted(
        operations(schema),  # type: ignore[arg-type]
        key=lambda op: (op.path.endswith(_ENDS_SESSION), not op.path_params),
    )


@pytest.mark.parametrize("credential", ["api_key", "session"])
async def test_another_tenant_cannot_reach_objects(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: TenantKeys,
    other_tenant: TenantKeys,
    credential: str,
) -> None:
    victim = Victim(
        tenant=tenant,
        user_id=await add_user(app.state.db, VICTIM_EMAIL, {tenant.tenant_id: Role.developer}),
    )
    ids = {name: await factory(app, victim) for name, factory in VICTIM_OBJECTS.items()}
    schema = app.openapi()
    await _discover_victim_objects(client, schema, tenant, ids)
    secrets = {tenant.tenant_id, victim.user_id, VICTIM_EMAIL, *tenant.key_ids.values()}

    if credential == "api_key":
        headers = other_tenant.headers(Role.owner)
    else:
        await add_user(app.state.db, "intruder@globex.test", {other_tenant.tenant_id: Role.owner})
        headers = {"X-CSRF-Token": await sign_in(client, "intruder@globex.test")}

    failures: list[str] = []
    strict = 0
    unknown: set[str] = set()
    for op in _ordered(schema):
        missing = [p for p in op.path_params if p not in ids]
        unknown.update(missing)
        response = await client.request(
            op.method,
            op.url(ids, new_id()),
            params=op.query,
            json=op.json_body if op.has_body and op.json_body is not None else None,
            headers=headers,
        )
        where = f"{op.method} {op.path} -> {response.status_code}"
        if response.status_code >= 500:
            failures.append(f"{where}: server error {response.text[:200]}")
            continue
        if op.path_params:
            if response.status_code < 400:
                failures.append(f"{where}: another tenant's object was reachable")
            elif response.status_code not in (403, 404, 422):
                failures.append(f"{where}: expected 404 (or 403)")
            elif op.is_body_complete and not missing:
                strict += 1
                if response.status_code == 422:
                    failures.append(f"{where}: a well-formed request was refused as invalid")
        # An id the caller sent may be echoed back ("no member X in this tenant"); any other is not.
        sent = str(response.request.url)
        leaked = sorted(s for s in secrets if s in response.text and s not in sent)
        if leaked:
            failures.append(f"{where}: shows acme's {leaked}")
    if unknown:
        warnings.warn(
            f"isolation matrix: no victim object for path parameters {sorted(unknown)}; "
            "add them to VICTIM_OBJECTS in tests/test_isolation.py",
            stacklevel=1,
        )
    assert not failures, "\n".join(failures)
    # The matrix checked the spine's own object routes strictly (they must not decay to 422s).
    assert strict >= 4, strict

    # And acme's objects are untouched.
    me = await client.get("/api/v1/auth/me", headers=tenant.headers(Role.viewer))
    assert me.status_code == 200
    members = await client.get("/api/v1/members", headers=tenant.headers(Role.admin))
    assert victim.user_id in members.text
