"""SSO end to end against a real OpenID provider on loopback (oidc-provider-mock).

The test plays the browser: it follows Midcore's redirect to the provider, signs in there as a
subject (the provider's login form), and brings the provider's answer back to the callback.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from fastapi import FastAPI
from oidc_provider_mock import run_server_in_thread
from sqlalchemy import select

from midcore.audit.models import AuditEvent
from midcore.auth import oidc
from midcore.auth.roles import Role
from midcore.tenants.models import Membership
from tests.conftest import TenantKeys, add_user
from tests.test_app import assert_problem

CLIENT_ID = "midcore-acme"
CLIENT_SECRET = "a-client-secret-for-tests"
LOGIN = "/api/v1/auth/sso/login"
SSO_CONFIG = "/api/v1/tenant/sso"


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def expiring_issuer() -> Iterator[str]:
    """A provider whose ID tokens expired an hour before they were issued."""
    with run_server_in_thread(access_token_max_age=timedelta(hours=-1)) as server:
        yield f"http://localhost:{server.server_port}"


async def configure(
    client: httpx.AsyncClient, tenant: TenantKeys, issuer: str, **extra: object
) -> None:
    body = {
        "issuer": issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "allowed_domains": ["acme.test"],
        **extra,
    }
    response = await client.put(SSO_CONFIG, json=body, headers=tenant.headers(Role.admin))
    assert response.status_code == 200, response.text


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def authorize_at_provider(authorize_url: str, subject: str) -> str:
    """Sign in at the provider as `subject`; returns the callback path and query it sends back."""
    async with httpx.AsyncClient() as browser:
        response = await browser.post(authorize_url, data={"sub": subject})
    assert response.status_code == 302, response.text
    back = urlsplit(response.headers["location"])
    assert back.path == oidc.CALLBACK_PATH
    return f"{back.path}?{back.query}"


async def start(client: httpx.AsyncClient, tenant: str = "acme") -> str:
    response = await client.get(LOGIN, params={"tenant": tenant})
    assert response.status_code == 302, response.text
    assert oidc.STATE_COOKIE in response.headers["set-cookie"]
    location: str = response.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["client_id"] == [CLIENT_ID]
    assert {"state", "nonce", "code_challenge"} <= set(query)
    return location


async def sign_in_with_sso(
    client: httpx.AsyncClient, subject: str, **tamper: str
) -> httpx.Response:
    authorize_url = _with_query(await start(client), **tamper)
    return await client.get(await authorize_at_provider(authorize_url, subject))


async def _events(app: FastAPI, action: str) -> list[AuditEvent]:
    async with app.state.db.session() as session:
        statement = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list((await session.scalars(statement)).all())


class TestSsoSignIn:
    async def test_success(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys, issuer: str
    ) -> None:
        await configure(client, tenant, issuer)
        user_id = await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.developer})
        response = await sign_in_with_sso(client, "ada@acme.test")
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/"
        assert "midcore_session=" in response.headers["set-cookie"]
        me = (await client.get("/api/v1/auth/me")).json()
        assert (me["user_id"], me["role"], me["tenant"]["slug"]) == (user_id, "developer", "acme")
        events = await _events(app, "auth.sso_login")
        assert [(e.outcome, e.tenant_id) for e in events] == [("success", tenant.tenant_id)]
        assert events[0].details["issuer"] == issuer

    async def test_wrong_nonce(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys, issuer: str
    ) -> None:
        await configure(client, tenant, issuer)
        await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.viewer})
        response = await sign_in_with_sso(client, "ada@acme.test", nonce="not-the-one-we-sent")
        body = assert_problem(response, 401, "sso_failed")
        assert "nonce" in str(body["detail"])
        assert "midcore_session" not in client.cookies
        events = await _events(app, "auth.sso_login")
        assert [(e.outcome, e.tenant_id) for e in events] == [("failure", tenant.tenant_id)]

    async def test_wrong_audience(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys, issuer: str
    ) -> None:
        """An ID token the provider signed for another application is refused."""
        async with httpx.AsyncClient() as browser:
            authorize = _with_query(
                f"{issuer}/oauth2/authorize",
                client_id="another-app",
                response_type="code",
                redirect_uri="http://another.test/callback",
                scope="openid email",
                nonce="n-123",
            )
            code_response = await browser.post(authorize, data={"sub": "ada@acme.test"})
            code = parse_qs(urlsplit(code_response.headers["location"]).query)["code"][0]
            token_response = await browser.post(
                f"{issuer}/oauth2/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": "http://another.test/callback",
                },
                auth=("another-app", "its-secret"),
            )
        id_token = token_response.json()["id_token"]
        claims = await oidc.verify_id_token(
            id_token, issuer=issuer, client_id="another-app", nonce="n-123"
        )
        assert claims["aud"] in ("another-app", ["another-app"])
        with pytest.raises(oidc.SsoFailed, match="aud"):
            await oidc.verify_id_token(id_token, issuer=issuer, client_id=CLIENT_ID, nonce="n-123")

        # Through the callback: a code issued to another application is refused too.
        await configure(client, tenant, issuer)
        await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.viewer})
        response = await sign_in_with_sso(client, "ada@acme.test", client_id="another-app")
        assert_problem(response, 401, "sso_failed")

    async def test_expired_token(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        tenant: TenantKeys,
        expiring_issuer: str,
    ) -> None:
        await configure(client, tenant, expiring_issuer)
        await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.viewer})
        response = await sign_in_with_sso(client, "ada@acme.test")
        body = assert_problem(response, 401, "sso_failed")
        assert "expired" in str(body["detail"])

    async def test_email_domain_not_allowed(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys, issuer: str
    ) -> None:
        await configure(client, tenant, issuer, is_jit_enabled=True)
        response = await sign_in_with_sso(client, "mallory@evil.test")
        assert_problem(response, 403, "sso_domain_not_allowed")
        events = await _events(app, "auth.sso_login")
        assert events[0].details["code"] == "sso_domain_not_allowed"

    async def test_user_of_another_tenant(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        tenant: TenantKeys,
        other_tenant: TenantKeys,
        issuer: str,
    ) -> None:
        await configure(client, tenant, issuer)
        # Another tenant's user, from that tenant's domain: the domain is not acme's.
        await add_user(app.state.db, "bob@globex.test", {other_tenant.tenant_id: Role.owner})
        response = await sign_in_with_sso(client, "bob@globex.test")
        assert_problem(response, 403, "sso_domain_not_allowed")
        # Another tenant's user with an allowed address, but no membership here (JIT off).
        await add_user(app.state.db, "carol@acme.test", {other_tenant.tenant_id: Role.owner})
        response = await sign_in_with_sso(client, "carol@acme.test")
        assert_problem(response, 403, "sso_not_a_member")
        assert "midcore_session" not in client.cookies

    async def test_just_in_time_membership(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys, issuer: str
    ) -> None:
        await configure(client, tenant, issuer, is_jit_enabled=True, default_role="operator")
        response = await sign_in_with_sso(client, "newcomer@ACME.test")
        assert response.status_code == 303, response.text
        me = (await client.get("/api/v1/auth/me")).json()
        assert me["role"] == "operator"
        async with app.state.db.session() as session:
            members = (
                await session.scalars(
                    select(Membership).where(Membership.tenant_id == tenant.tenant_id)
                )
            ).all()
        assert [m.user_id for m in members] == [me["user_id"]]

    async def test_state_is_bound_to_the_browser_and_used_once(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys, issuer: str
    ) -> None:
        await configure(client, tenant, issuer)
        await add_user(app.state.db, "ada@acme.test", {tenant.tenant_id: Role.viewer})
        callback = await authorize_at_provider(await start(client), "ada@acme.test")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://midcore.test") as other:
            assert_problem(await other.get(callback), 401, "sso_failed")
        assert (await client.get(callback)).status_code == 303
        replay = await client.get(callback)
        assert_problem(replay, 401, "sso_failed")

    async def test_provider_error_and_missing_state(
        self, client: httpx.AsyncClient, tenant: TenantKeys, issuer: str
    ) -> None:
        await configure(client, tenant, issuer)
        await start(client)
        state = client.cookies[oidc.STATE_COOKIE]
        denied = await client.get(
            oidc.CALLBACK_PATH, params={"state": state, "error": "access_denied"}
        )
        body = assert_problem(denied, 401, "sso_failed")
        assert "access_denied" in str(body["detail"])
        assert_problem(await client.get(oidc.CALLBACK_PATH), 401, "sso_failed")

    async def test_provider_unreachable(
        self, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        from tests.e2e.conftest import free_port

        await configure(client, tenant, f"http://127.0.0.1:{free_port()}")
        response = await client.get(LOGIN, params={"tenant": "acme"})
        assert_problem(response, 503, "identity_provider_unavailable")

    async def test_tenant_without_sso(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        for name in ("acme", "no-such-tenant"):
            response = await client.get(LOGIN, params={"tenant": name})
            assert_problem(response, 404, "sso_not_available")
        assert_problem(await client.get(LOGIN), 422, "validation_failed")


class TestSsoConfiguration:
    async def test_anonymous(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get(SSO_CONFIG), 401, "authentication_required")

    async def test_missing_permission(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        response = await client.get(SSO_CONFIG, headers=tenant.headers(Role.developer))
        assert_problem(response, 403, "permission_denied")

    async def test_other_tenant_sees_its_own_only(
        self, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys, issuer: str
    ) -> None:
        await configure(client, tenant, issuer)
        response = await client.get(SSO_CONFIG, headers=other_tenant.headers())
        assert_problem(response, 404, "sso_not_configured")

    async def test_invalid_input(self, client: httpx.AsyncClient, tenant: TenantKeys) -> None:
        response = await client.put(
            SSO_CONFIG,
            json={"issuer": "not a url", "allowed_domains": [], "default_role": "emperor"},
            headers=tenant.headers(),
        )
        body = assert_problem(response, 422, "validation_failed")
        fields = {e["field"] for e in body["errors"]}  # type: ignore[attr-defined]
        assert fields == {"issuer", "allowed_domains", "default_role"}

    async def test_admin_cannot_grant_owner_by_default(
        self, client: httpx.AsyncClient, tenant: TenantKeys, issuer: str
    ) -> None:
        response = await client.put(
            SSO_CONFIG,
            json={"issuer": issuer, "allowed_domains": ["acme.test"], "default_role": "owner"},
            headers=tenant.headers(Role.admin),
        )
        assert_problem(response, 403, "permission_denied")

    async def test_valid_never_shows_the_secret(
        self, app: FastAPI, client: httpx.AsyncClient, tenant: TenantKeys, issuer: str
    ) -> None:
        await configure(client, tenant, issuer, allowed_domains=["Acme.test", "acme.test"])
        read = await client.get(SSO_CONFIG, headers=tenant.headers(Role.admin))
        body = read.json()
        assert body["has_client_secret"] is True
        assert CLIENT_SECRET not in read.text
        assert body["allowed_domains"] == ["acme.test"]
        assert body["login_url"] == "/api/v1/auth/sso/login?tenant=acme"
        events = await _events(app, "tenant.sso_update")
        assert events and CLIENT_SECRET not in str(events[0].details)
        deleted = await client.delete(SSO_CONFIG, headers=tenant.headers(Role.admin))
        assert deleted.status_code == 204
        assert (await client.get(SSO_CONFIG, headers=tenant.headers())).status_code == 404
