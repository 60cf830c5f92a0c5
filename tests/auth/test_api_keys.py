from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from midcore.audit.models import AuditEvent
from midcore.auth.models import ApiKey
from midcore.auth.roles import Role
from midcore.db import utcnow
from tests.conftest import TenantKeys
from tests.test_app import assert_problem


async def _audit(app: FastAPI, **where: str) -> list[AuditEvent]:
    async with app.state.db.session() as session:
        statement = select(AuditEvent).order_by(AuditEvent.id)
        for column, value in where.items():
            statement = statement.where(getattr(AuditEvent, column) == value)
        return list((await session.scalars(statement)).all())


class TestMe:
    async def test_anonymous(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        assert_problem(await client.get("/api/v1/auth/me"), 401, "authentication_required")

    async def test_bearer_key(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        response = await client.get("/api/v1/auth/me", headers=tenant.headers(Role.viewer))
        assert response.status_code == 200
        body = response.json()
        assert body["tenant"]["slug"] == "acme"
        assert body["role"] == "viewer"
        assert "runs:read" in body["permissions"]
        assert "runs:write" not in body["permissions"]

    async def test_x_api_key_header(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        headers = {"X-API-Key": tenant.keys[Role.admin]}
        response = await client.get("/api/v1/auth/me", headers=headers)
        assert response.json()["role"] == "admin"

    async def test_wrong_secret(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        key = tenant.keys[Role.owner]
        forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
        response = await client.get("/api/v1/auth/me", headers={"X-API-Key": forged})
        assert_problem(response, 401, "invalid_credentials")

    async def test_malformed_key(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        response = await client.get("/api/v1/auth/me", headers={"X-API-Key": "hello"})
        assert_problem(response, 401, "invalid_credentials")

    async def test_expired_key(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        async with app.state.db.session() as session:
            await session.execute(
                update(ApiKey)
                .where(ApiKey.id == tenant.key_ids[Role.owner])
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        response = await client.get("/api/v1/auth/me", headers=tenant.headers())
        body = assert_problem(response, 401, "invalid_credentials")
        assert "expired" in str(body["detail"])
        denied = await _audit(app, outcome="unauthenticated", tenant_id=tenant.tenant_id)
        assert denied and denied[-1].actor == f"api_key:{tenant.key_ids[Role.owner]}"

    async def test_last_used_is_recorded(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        await client.get("/api/v1/auth/me", headers=tenant.headers(Role.viewer))
        async with app.state.db.session() as session:
            key = await session.get(ApiKey, tenant.key_ids[Role.viewer])
            assert key is not None and key.last_used_at is not None


class TestCreateKey:
    async def test_anonymous(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/v1/api-keys", json={"name": "ci", "role": "viewer"})
        assert_problem(response, 401, "authentication_required")

    async def test_wrong_role_is_denied_and_audited(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        response = await client.post(
            "/api/v1/api-keys",
            json={"name": "ci", "role": "viewer"},
            headers=tenant.headers(Role.developer),
        )
        assert_problem(response, 403, "permission_denied")
        denied = await _audit(app, outcome="denied", tenant_id=tenant.tenant_id)
        assert [e.action for e in denied] == ["POST /api/v1/api-keys"]
        assert denied[0].actor == f"api_key:{tenant.key_ids[Role.developer]}"
        assert denied[0].details["required_permission"] == "api_keys:manage"
        assert denied[0].request_id == response.headers["x-request-id"]

    async def test_invalid_input(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        response = await client.post(
            "/api/v1/api-keys", json={"name": "", "role": "emperor"}, headers=tenant.headers()
        )
        body = assert_problem(response, 422, "validation_failed")
        fields = {e["field"] for e in body["errors"]}  # type: ignore[attr-defined]
        assert fields == {"name", "role"}

    async def test_naive_or_past_expiry_is_refused(
        self, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        for expires_at in ["2030-01-01T00:00:00", "2001-01-01T00:00:00Z"]:
            response = await client.post(
                "/api/v1/api-keys",
                json={"name": "ci", "role": "viewer", "expires_at": expires_at},
                headers=tenant.headers(),
            )
            assert_problem(response, 422, "validation_failed")

    async def test_cannot_mint_a_stronger_key(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        response = await client.post(
            "/api/v1/api-keys",
            json={"name": "x", "role": "owner"},
            headers=tenant.headers(Role.admin),
        )
        assert_problem(response, 403, "permission_denied")
        # A refusal from below the permission check is audited too, once, in the caller's name.
        denied = await _audit(app, outcome="denied", tenant_id=tenant.tenant_id)
        assert [(e.action, e.actor) for e in denied] == [
            ("POST /api/v1/api-keys", f"api_key:{tenant.key_ids[Role.admin]}")
        ]
        assert "owner" in denied[0].details["reason"]

    async def test_created_key_is_shown_once_and_works(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        response = await client.post(
            "/api/v1/api-keys",
            json={"name": "ci", "role": "operator", "expires_at": "2099-01-01T00:00:00Z"},
            headers=tenant.headers(Role.admin),
        )
        assert response.status_code == 201
        created = response.json()
        assert created["key"].startswith(f"mc_{created['id']}_")
        me = await client.get("/api/v1/auth/me", headers={"X-API-Key": created["key"]})
        assert me.json()["role"] == "operator"
        listed = (await client.get("/api/v1/api-keys", headers=tenant.headers())).json()
        assert created["id"] in [k["id"] for k in listed["items"]]
        assert all("key" not in k for k in listed["items"])
        async with app.state.db.session() as session:
            stored = await session.get(ApiKey, created["id"])
            assert (
                stored is not None and created["key"].split("_", 2)[2] not in stored.secret_sha256
            )
        audit = await _audit(app, action="api_key.create", target_id=created["id"])
        assert len(audit) == 1 and audit[0].tenant_id == tenant.tenant_id


class TestListKeys:
    async def test_pagination(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (
                await client.get("/api/v1/api-keys", params=params, headers=tenant.headers())
            ).json()
            seen += [k["id"] for k in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(tenant.key_ids.values())
        assert len(seen) == len(set(seen))

    async def test_other_tenants_keys_are_not_listed(
        self, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        page = (await client.get("/api/v1/api-keys", headers=other_tenant.headers())).json()
        ids = {k["id"] for k in page["items"]}
        assert ids == set(other_tenant.key_ids.values())

    async def test_bad_cursor(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        response = await client.get(
            "/api/v1/api-keys", params={"cursor": "!!!"}, headers=tenant.headers()
        )
        assert_problem(response, 422, "validation_failed")

    async def test_viewer_is_denied(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        response = await client.get("/api/v1/api-keys", headers=tenant.headers(Role.viewer))
        assert_problem(response, 403, "permission_denied")


class TestRevokeKey:
    async def test_admin_cannot_revoke_an_owner_key(
        self, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        key_id = tenant.key_ids[Role.owner]
        response = await client.delete(
            f"/api/v1/api-keys/{key_id}", headers=tenant.headers(Role.admin)
        )
        assert_problem(response, 403, "permission_denied")
        me = await client.get("/api/v1/auth/me", headers=tenant.headers(Role.owner))
        assert me.status_code == 200

    async def test_revoked_key_stops_working(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        key_id = tenant.key_ids[Role.operator]
        response = await client.delete(f"/api/v1/api-keys/{key_id}", headers=tenant.headers())
        assert response.status_code == 200
        assert response.json()["revoked_at"] is not None
        me = await client.get("/api/v1/auth/me", headers=tenant.headers(Role.operator))
        body = assert_problem(me, 401, "invalid_credentials")
        assert "revoked" in str(body["detail"])
        again = await client.delete(f"/api/v1/api-keys/{key_id}", headers=tenant.headers())
        assert again.status_code == 200
        assert len(await _audit(app, action="api_key.revoke", target_id=key_id)) == 1

    async def test_other_tenants_key_is_not_found(
        self, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        key_id = other_tenant.key_ids[Role.viewer]
        response = await client.delete(f"/api/v1/api-keys/{key_id}", headers=tenant.headers())
        assert_problem(response, 404, "api_key_not_found")
        me = await client.get("/api/v1/auth/me", headers=other_tenant.headers(Role.viewer))
        assert me.status_code == 200

    async def test_anonymous_and_wrong_role(
        self, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        key_id = tenant.key_ids[Role.viewer]
        assert_problem(
            await client.delete(f"/api/v1/api-keys/{key_id}"), 401, "authentication_required"
        )
        response = await client.delete(
            f"/api/v1/api-keys/{key_id}", headers=tenant.headers(Role.operator)
        )
        assert_problem(response, 403, "permission_denied")
