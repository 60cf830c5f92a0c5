"""Password sign-in, the session cookie, CSRF, the active tenant and ending sessions."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from midcore.audit.models import AuditEvent
from midcore.auth.models import UserSession
from midcore.auth.roles import Role
from midcore.db import utcnow
from midcore.tenants.models import Membership
from tests.conftest import PASSWORD, TenantKeys, add_user, sign_in
from tests.test_app import assert_problem

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"
KEYS = "/api/v1/api-keys"


async def _audit(app: FastAPI, **where: str) -> list[AuditEvent]:
    async with app.state.db.session() as session:
        statement = select(AuditEvent).order_by(AuditEvent.id)
        for column, value in where.items():
            statement = statement.where(getattr(AuditEvent, column) == value)
        return list((await session.scalars(statement)).all())


def hold_the_clock(app: FastAPI) -> None:
    """Counting happens in one window whatever the time the test takes."""
    now = time.time()
    app.state.rate_limiter.clock = lambda: now


async def _age_sessions(app: FastAPI, user_id: str, **values: object) -> None:
    async with app.state.db.session() as session:
        await session.execute(
            update(UserSession).where(UserSession.user_id == user_id).values(**values)
        )


class TestLogin:
    async def test_valid_sets_a_safe_cookie_and_audits(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        user_id = await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.admin})
        response = await client.post(LOGIN, json={"email": "Ada@acme.test", "password": PASSWORD})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["tenant"]["slug"] == "acme"
        assert body["role"] == "admin"
        assert body["user_id"] == user_id
        assert body["actor"] == f"user:{user_id}"
        assert len(body["csrf_token"]) >= 32
        cookie = response.headers["set-cookie"].lower()
        assert cookie.startswith("midcore_session=")
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
        assert "secure" not in cookie  # development; production is covered below
        assert response.headers["cache-control"] == "no-store"
        events = await _audit(app, action="auth.login", outcome="success")
        assert [e.actor for e in events] == [f"user:{user_id}"]
        assert events[0].tenant_id == tenant.tenant_id

    async def test_cookie_is_secure_when_configured(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        app.state.settings.session_cookie_secure = True
        await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.admin})
        response = await client.post(LOGIN, json={"email": "ada@acme.test", "password": PASSWORD})
        assert "secure" in response.headers["set-cookie"].lower()

    async def test_failures_do_not_say_whether_the_email_exists(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.admin})
        wrong = await client.post(LOGIN, json={"email": "ada@acme.test", "password": "nope"})
        unknown = await client.post(LOGIN, json={"email": "bob@acme.test", "password": "nope"})
        first = assert_problem(wrong, 401, "invalid_credentials")
        second = assert_problem(unknown, 401, "invalid_credentials")
        assert first["detail"] == second["detail"]
        assert "set-cookie" not in wrong.headers
        failures = await _audit(app, action="auth.login", outcome="failure")
        assert [e.details["email"] for e in failures] == ["ada@acme.test", "bob@acme.test"]
        # The known user's failure is visible to their tenant's admins.
        assert failures[0].tenant_id == tenant.tenant_id

    async def test_user_without_password_cannot_sign_in(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        await add_user(app.state.db, "sso@acme.test", {tenant.tenant_id: Role.admin}, None)
        response = await client.post(LOGIN, json={"email": "sso@acme.test", "password": "x"})
        assert_problem(response, 401, "invalid_credentials")

    async def test_user_without_a_tenant(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        await add_user(app.state.db, "ada@acme.test", {})
        response = await client.post(LOGIN, json={"email": "ada@acme.test", "password": PASSWORD})
        assert_problem(response, 403, "no_membership")
        assert "set-cookie" not in response.headers

    async def test_invalid_input(self, client: httpx.AsyncClient) -> None:
        response = await client.post(LOGIN, json={"email": "ada@acme.test"})
        body = assert_problem(response, 422, "validation_failed")
        assert [e["field"] for e in body["errors"]] == ["password"]  # type: ignore[attr-defined]

    async def test_lands_in_the_tenant_asked_for(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        memberships = {tenant.tenant_id: Role.viewer, other_tenant.tenant_id: Role.owner}
        await add_user(app.state.db, "ada@acme.test", memberships)
        await sign_in(client, "ada@acme.test", tenant="globex")
        me = (await client.get(ME)).json()
        assert (me["tenant"]["slug"], me["role"]) == ("globex", "owner")
        assert sorted(t["slug"] for t in me["tenants"]) == ["acme", "globex"]

    async def test_a_tenant_not_theirs_is_not_found(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.viewer})
        for name in ("globex", "no-such-tenant"):
            response = await client.post(
                LOGIN, json={"email": "ada@acme.test", "password": PASSWORD, "tenant": name}
            )
            assert_problem(response, 404, "tenant_not_found")

    async def test_rate_limited_per_ip(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        app.state.settings.rate_limit_sign_in_per_ip = 3
        hold_the_clock(app)
        await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.admin})
        for _ in range(3):
            response = await client.post(LOGIN, json={"email": "ada@acme.test", "password": "x"})
            assert response.status_code == 401
        # Even the right password is refused until the window ends.
        response = await client.post(LOGIN, json={"email": "ada@acme.test", "password": PASSWORD})
        assert_problem(response, 429, "rate_limited")
        assert int(response.headers["retry-after"]) >= 1


class TestCookieAuthentication:
    async def test_me_gives_the_csrf_token(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.operator})
        csrf = await sign_in(client, "ada@acme.test")
        me = await client.get(ME)
        assert me.status_code == 200
        assert me.json()["csrf_token"] == csrf
        assert me.json()["role"] == "operator"

    async def test_writes_need_the_csrf_token(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        user_id = await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.owner})
        csrf = await sign_in(client, "ada@acme.test")
        body = {"name": "ci", "role": "viewer"}
        missing = await client.post(KEYS, json=body)
        assert_problem(missing, 403, "csrf_failed")
        wrong = await client.post(KEYS, json=body, headers={"X-CSRF-Token": csrf[:-1] + "x"})
        assert_problem(wrong, 403, "csrf_failed")
        denied = await _audit(app, outcome="denied", tenant_id=tenant.tenant_id)
        assert [e.actor for e in denied] == [f"user:{user_id}"] * 2
        created = await client.post(KEYS, json=body, headers={"X-CSRF-Token": csrf})
        assert created.status_code == 201
        assert created.json()["created_by"] == f"user:{user_id}"

    async def test_permissions_follow_the_membership_role(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        user_id = await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.owner})
        csrf = await sign_in(client, "ada@acme.test")
        async with app.state.db.session() as session:
            await session.execute(
                update(Membership)
                .where(Membership.user_id == user_id)
                .values(role=Role.viewer.value)
            )
        response = await client.post(
            KEYS, json={"name": "ci", "role": "viewer"}, headers={"X-CSRF-Token": csrf}
        )
        assert_problem(response, 403, "permission_denied")

    async def test_an_api_key_comes_before_the_cookie(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.owner})
        await sign_in(client, "ada@acme.test")
        me = await client.get(ME, headers=tenant.headers(Role.viewer))
        assert me.json()["actor"] == f"api_key:{tenant.key_ids[Role.viewer]}"
        # ...and a key needs no CSRF token for a write.
        created = await client.post(
            KEYS, json={"name": "ci", "role": "viewer"}, headers=tenant.headers(Role.admin)
        )
        assert created.status_code == 201

    async def test_idle_and_absolute_expiry(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        user_id = await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.owner})
        idle = timedelta(seconds=app.state.settings.session_idle_seconds + 1)
        await sign_in(client, "ada@acme.test")
        await _age_sessions(app, user_id, last_seen_at=utcnow() - idle)
        body = assert_problem(await client.get(ME), 401, "session_invalid")
        assert "inactivity" in str(body["detail"])

        await sign_in(client, "ada@acme.test")
        await _age_sessions(app, user_id, expires_at=utcnow() - timedelta(seconds=1))
        body = assert_problem(await client.get(ME), 401, "session_invalid")
        assert "expired" in str(body["detail"])
        denied = await _audit(app, outcome="unauthenticated", tenant_id=tenant.tenant_id)
        assert [e.actor for e in denied] == [f"user:{user_id}"] * 2

    async def test_denial_of_an_active_session_is_recorded(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        # A session last seen minutes ago is touched on this request; the denial must still be
        # recorded beside it (on SQLite a pending write in the request would lock it out).
        user_id = await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.viewer})
        csrf = await sign_in(client, "ada@acme.test")
        await _age_sessions(app, user_id, last_seen_at=utcnow() - timedelta(minutes=5))
        response = await client.post(
            KEYS, json={"name": "ci", "role": "viewer"}, headers={"X-CSRF-Token": csrf}
        )
        assert_problem(response, 403, "permission_denied")
        denied = await _audit(app, outcome="denied", tenant_id=tenant.tenant_id)
        assert [e.actor for e in denied] == [f"user:{user_id}"]
        async with app.state.db.session() as session:
            row = await session.scalar(select(UserSession).where(UserSession.user_id == user_id))
            assert row is not None and utcnow() - row.last_seen_at < timedelta(minutes=5)

    async def test_forged_cookie(self, client: httpx.AsyncClient) -> None:
        client.cookies.set("midcore_session", "forged")
        assert_problem(await client.get(ME), 401, "session_invalid")

    async def test_removed_member_loses_access(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        user_id = await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.viewer})
        await sign_in(client, "ada@acme.test")
        async with app.state.db.session() as session:
            membership = await session.scalar(
                select(Membership).where(Membership.user_id == user_id)
            )
            await session.delete(membership)
        assert_problem(await client.get(ME), 403, "no_membership")


class TestActiveTenant:
    async def _two_tenant_user(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys, other: TenantKeys
    ) -> str:
        memberships = {tenant.tenant_id: Role.admin, other.tenant_id: Role.viewer}
        await add_user(app.state.db, "ada@acme.test", memberships)
        return await sign_in(client, "ada@acme.test", tenant="acme")

    async def test_header_picks_the_tenant_per_request(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        await self._two_tenant_user(app, client, tenant, other_tenant)
        by_slug = await client.get(ME, headers={"X-Midcore-Tenant": "globex"})
        assert (by_slug.json()["tenant"]["slug"], by_slug.json()["role"]) == ("globex", "viewer")
        by_id = await client.get(ME, headers={"X-Midcore-Tenant": other_tenant.tenant_id})
        assert by_id.json()["tenant"]["slug"] == "globex"
        assert (await client.get(ME)).json()["tenant"]["slug"] == "acme"

    async def test_header_naming_another_tenant_is_not_found(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.owner})
        await sign_in(client, "ada@acme.test")
        for name in ("globex", other_tenant.tenant_id, "no-such-tenant"):
            response = await client.get(ME, headers={"X-Midcore-Tenant": name})
            assert_problem(response, 404, "tenant_not_found")

    async def test_an_api_key_is_bound_to_its_tenant(
        self, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        own = await client.get(ME, headers={**tenant.headers(), "X-Midcore-Tenant": "acme"})
        assert own.status_code == 200
        other = await client.get(ME, headers={**tenant.headers(), "X-Midcore-Tenant": "globex"})
        assert_problem(other, 404, "tenant_not_found")


class TestSwitchTenant:
    URL = "/api/v1/auth/switch-tenant"

    async def test_anonymous(self, client: httpx.AsyncClient) -> None:
        assert_problem(
            await client.post(self.URL, json={"tenant": "acme"}), 401, "authentication_required"
        )

    async def test_api_key_cannot_switch(
        self, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        response = await client.post(self.URL, json={"tenant": "acme"}, headers=tenant.headers())
        assert_problem(response, 401, "authentication_required")

    async def test_needs_csrf(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.owner})
        await sign_in(client, "ada@acme.test")
        assert_problem(await client.post(self.URL, json={"tenant": "acme"}), 403, "csrf_failed")

    async def test_other_tenant_is_not_found(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.owner})
        csrf = await sign_in(client, "ada@acme.test")
        response = await client.post(
            self.URL, json={"tenant": "globex"}, headers={"X-CSRF-Token": csrf}
        )
        assert_problem(response, 404, "tenant_not_found")

    async def test_invalid_input(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.owner})
        csrf = await sign_in(client, "ada@acme.test")
        response = await client.post(self.URL, json={"tenant": ""}, headers={"X-CSRF-Token": csrf})
        assert_problem(response, 422, "validation_failed")

    async def test_valid(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        memberships = {tenant.tenant_id: Role.admin, other_tenant.tenant_id: Role.viewer}
        await add_user(app.state.db, "ada@acme.test", memberships)
        csrf = await sign_in(client, "ada@acme.test")
        response = await client.post(
            self.URL, json={"tenant": "globex"}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status_code == 200
        assert (response.json()["tenant"]["slug"], response.json()["role"]) == ("globex", "viewer")
        assert (await client.get(ME)).json()["tenant"]["slug"] == "globex"
        events = await _audit(app, action="auth.switch_tenant")
        assert [e.tenant_id for e in events] == [other_tenant.tenant_id]


class TestLogout:
    URL = "/api/v1/auth/logout"

    async def test_anonymous(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.post(self.URL), 401, "authentication_required")

    async def test_needs_csrf(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.viewer})
        await sign_in(client, "ada@acme.test")
        assert_problem(await client.post(self.URL), 403, "csrf_failed")
        assert (await client.get(ME)).status_code == 200

    async def test_valid_ends_the_session(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.viewer})
        csrf = await sign_in(client, "ada@acme.test")
        old_cookie = client.cookies["midcore_session"]
        response = await client.post(self.URL, headers={"X-CSRF-Token": csrf})
        assert response.status_code == 204
        assert 'midcore_session=""' in response.headers["set-cookie"]
        client.cookies.set("midcore_session", old_cookie)
        body = assert_problem(await client.get(ME), 401, "session_invalid")
        assert "ended" in str(body["detail"])
        assert [e.outcome for e in await _audit(app, action="auth.logout")] == ["success"]


class TestRevokeSessions:
    async def test_anonymous_and_api_key(
        self, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        url = "/api/v1/auth/sessions/revoke-all"
        assert_problem(await client.post(url), 401, "authentication_required")
        assert_problem(
            await client.post(url, headers=tenant.headers()), 401, "authentication_required"
        )

    async def test_sign_out_everywhere(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.viewer})
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://midcore.test") as other:
            await sign_in(other, "ada@acme.test")
            csrf = await sign_in(client, "ada@acme.test")
            response = await client.post(
                "/api/v1/auth/sessions/revoke-all", headers={"X-CSRF-Token": csrf}
            )
            assert response.json() == {"revoked": 2}
            assert_problem(await other.get(ME), 401, "session_invalid")

    async def test_admin_signs_a_member_out(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        user_id = await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.viewer})
        await sign_in(client, "ada@acme.test")
        url = f"/api/v1/members/{user_id}/sessions"
        anonymous = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://midcore.test"
        )
        async with anonymous:
            assert_problem(await anonymous.delete(url), 401, "authentication_required")
        denied = await client.delete(url, headers=tenant.headers(Role.developer))
        assert_problem(denied, 403, "permission_denied")
        elsewhere = await client.delete(url, headers=other_tenant.headers())
        assert_problem(elsewhere, 404, "member_not_found")
        assert (await client.get(ME)).status_code == 200
        done = await client.delete(url, headers=tenant.headers(Role.admin))
        assert done.json() == {"revoked": 1}
        assert_problem(await client.get(ME), 401, "session_invalid")
        events = await _audit(app, action="member.sessions_revoke")
        assert [e.target_id for e in events] == [user_id]


class TestApiKeyRateLimit:
    async def test_per_key_with_retry_after(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        app.state.settings.rate_limit_per_api_key = 2
        hold_the_clock(app)
        for _ in range(2):
            assert (await client.get(ME, headers=tenant.headers())).status_code == 200
        limited = await client.get(ME, headers=tenant.headers())
        assert_problem(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) >= 1
        # Another key has its own budget.
        assert (await client.get(ME, headers=tenant.headers(Role.viewer))).status_code == 200
