from __future__ import annotations

import httpx

from midcore.auth.roles import Role
from tests.conftest import TenantKeys
from tests.test_app import assert_problem


class TestAuditTrail:
    async def test_anonymous(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/api/v1/audit"), 401, "authentication_required")

    async def test_wrong_role(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        response = await client.get("/api/v1/audit", headers=tenant.headers(Role.developer))
        assert_problem(response, 403, "permission_denied")

    async def test_invalid_filters(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        response = await client.get(
            "/api/v1/audit", params={"since": "yesterday", "limit": 0}, headers=tenant.headers()
        )
        body = assert_problem(response, 422, "validation_failed")
        assert {e["field"] for e in body["errors"]} == {"since", "limit"}  # type: ignore[attr-defined]

    async def test_changes_and_denials_are_recorded_per_tenant(
        self, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        created = await client.post(
            "/api/v1/api-keys", json={"name": "ci", "role": "viewer"}, headers=tenant.headers()
        )
        await client.get("/api/v1/audit", headers=tenant.headers(Role.viewer))  # denied
        await client.post(
            "/api/v1/api-keys",
            json={"name": "x", "role": "viewer"},
            headers=other_tenant.headers(),
        )
        page = (await client.get("/api/v1/audit", headers=tenant.headers(Role.admin))).json()
        actions = [(e["action"], e["outcome"]) for e in page["items"]]
        assert actions == [("GET /api/v1/audit", "denied"), ("api_key.create", "success")]
        create = page["items"][1]
        assert create["target_id"] == created.json()["id"]
        assert create["actor"] == f"api_key:{tenant.key_ids[Role.owner]}"
        assert create["request_id"] == created.headers["x-request-id"]
        denied = (
            await client.get(
                "/api/v1/audit", params={"outcome": "denied"}, headers=tenant.headers()
            )
        ).json()
        assert [e["action"] for e in denied["items"]] == ["GET /api/v1/audit"]
