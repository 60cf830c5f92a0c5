from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from midcore.audit.models import AuditEvent
from midcore.auth.roles import Role
from tests.conftest import TenantKeys
from tests.test_app import assert_problem


async def _add(client: httpx.AsyncClient, tenant: TenantKeys, email: str, role: str) -> dict:
    response = await client.post(
        "/api/v1/members", json={"email": email, "role": role}, headers=tenant.headers()
    )
    assert response.status_code == 201, response.text
    return response.json()


class TestAddMember:
    async def test_anonymous(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/v1/members", json={"email": "a@b.co", "role": "viewer"})
        assert_problem(response, 401, "authentication_required")

    async def test_wrong_role(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        response = await client.post(
            "/api/v1/members",
            json={"email": "a@b.co", "role": "viewer"},
            headers=tenant.headers(Role.developer),
        )
        assert_problem(response, 403, "permission_denied")

    async def test_invalid_input(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        response = await client.post(
            "/api/v1/members",
            json={"email": "not-an-email", "role": "viewer", "x": 1},
            headers=tenant.headers(),
        )
        body = assert_problem(response, 422, "validation_failed")
        assert {e["field"] for e in body["errors"]} == {"email", "x"}  # type: ignore[attr-defined]

    async def test_add_list_and_audit(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        member = await _add(client, tenant, "Ada@Example.com", "developer")
        assert member["email"] == "ada@example.com"
        assert member["role"] == "developer"
        page = (await client.get("/api/v1/members", headers=tenant.headers(Role.admin))).json()
        assert [m["user_id"] for m in page["items"]] == [member["user_id"]]
        duplicate = await client.post(
            "/api/v1/members",
            json={"email": "ada@example.com", "role": "viewer"},
            headers=tenant.headers(),
        )
        assert_problem(duplicate, 409, "conflict")
        async with app.state.db.session() as session:
            events = (
                await session.scalars(select(AuditEvent).where(AuditEvent.action == "member.add"))
            ).all()
        assert [(e.target_id, e.tenant_id) for e in events] == [
            (member["user_id"], tenant.tenant_id)
        ]

    async def test_same_user_in_two_tenants(
        self, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        first = await _add(client, tenant, "bob@example.com", "viewer")
        second = await _add(client, other_tenant, "bob@example.com", "admin")
        assert first["user_id"] == second["user_id"]
        page = (await client.get("/api/v1/members", headers=tenant.headers())).json()
        assert [m["role"] for m in page["items"]] == ["viewer"]

    async def test_admin_cannot_create_owner(
        self, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        response = await client.post(
            "/api/v1/members",
            json={"email": "eve@example.com", "role": "owner"},
            headers=tenant.headers(Role.admin),
        )
        assert_problem(response, 403, "permission_denied")


class TestChangeAndRemove:
    async def test_change_role(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        member = await _add(client, tenant, "c@example.com", "viewer")
        response = await client.patch(
            f"/api/v1/members/{member['user_id']}",
            json={"role": "operator"},
            headers=tenant.headers(Role.admin),
        )
        assert response.status_code == 200
        assert response.json()["role"] == "operator"

    async def test_invalid_role(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        member = await _add(client, tenant, "c@example.com", "viewer")
        response = await client.patch(
            f"/api/v1/members/{member['user_id']}", json={"role": "god"}, headers=tenant.headers()
        )
        assert_problem(response, 422, "validation_failed")

    async def test_other_tenant_member_is_not_found(
        self, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        member = await _add(client, other_tenant, "d@example.com", "viewer")
        path = f"/api/v1/members/{member['user_id']}"
        response = await client.patch(path, json={"role": "admin"}, headers=tenant.headers())
        assert_problem(response, 404, "member_not_found")
        assert_problem(await client.delete(path, headers=tenant.headers()), 404, "member_not_found")

    async def test_anonymous_and_wrong_role(
        self, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        member = await _add(client, tenant, "e@example.com", "viewer")
        path = f"/api/v1/members/{member['user_id']}"
        assert_problem(await client.delete(path), 401, "authentication_required")
        response = await client.delete(path, headers=tenant.headers(Role.operator))
        assert_problem(response, 403, "permission_denied")

    async def test_last_owner_stays(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        owner = await _add(client, tenant, "owner@example.com", "owner")
        path = f"/api/v1/members/{owner['user_id']}"
        demote = await client.patch(path, json={"role": "admin"}, headers=tenant.headers())
        assert_problem(demote, 409, "last_owner")
        assert_problem(await client.delete(path, headers=tenant.headers()), 409, "last_owner")
        second = await _add(client, tenant, "owner2@example.com", "owner")
        assert (await client.delete(path, headers=tenant.headers())).status_code == 204
        still = (await client.get("/api/v1/members", headers=tenant.headers())).json()
        assert [m["user_id"] for m in still["items"]] == [second["user_id"]]

    async def test_admin_cannot_touch_owner(
        self, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        owner = await _add(client, tenant, "o@example.com", "owner")
        await _add(client, tenant, "o2@example.com", "owner")
        path = f"/api/v1/members/{owner['user_id']}"
        response = await client.delete(path, headers=tenant.headers(Role.admin))
        assert_problem(response, 403, "permission_denied")
