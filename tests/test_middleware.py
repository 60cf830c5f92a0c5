"""Security headers on every response, and request body limits answered with 413 problems."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from midcore.app import create_app
from midcore.auth.roles import Role
from midcore.config import Environment, Settings
from tests.conftest import TenantKeys
from tests.test_app import STRONG_SECRET, assert_problem


class TestSecurityHeaders:
    async def test_on_success_and_on_errors(
        self, client: httpx.AsyncClient, tenant: TenantKeys
    ) -> None:
        responses = [
            await client.get("/healthz"),
            await client.get("/api/v1/auth/me", headers=tenant.headers()),
            await client.get("/api/v1/auth/me"),
            await client.get("/no/such/route"),
            await client.post("/api/v1/api-keys", json={}, headers=tenant.headers()),
        ]
        assert [r.status_code for r in responses] == [200, 200, 401, 404, 422]
        for response in responses:
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            assert "strict-transport-security" not in response.headers

    async def test_docs_may_load_their_scripts(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/docs")
        assert response.status_code == 200
        assert "content-security-policy" not in response.headers
        assert response.headers["x-frame-options"] == "DENY"

    async def test_hsts_in_production(self, settings: Settings) -> None:
        production = settings.model_copy(
            update={
                "env": Environment.production,
                "secret_key": STRONG_SECRET,
            }
        )
        app = create_app(production)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get("/healthz")
        assert response.headers["strict-transport-security"].startswith("max-age=")


@pytest.fixture
async def small_app(settings: Settings) -> AsyncIterator[FastAPI]:
    limited = settings.model_copy(update={"max_body_bytes": 2048, "max_upload_bytes": 4096})
    app = create_app(limited)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def small_client(small_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=small_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://midcore.test") as client:
        yield client


class TestBodyLimit:
    async def test_declared_length_over_the_limit(
        self, small_app: FastAPI, small_client: httpx.AsyncClient
    ) -> None:
        tenant = await _tenant(small_app)
        response = await small_client.post(
            "/api/v1/api-keys",
            content=b'{"name": "' + b"x" * 4000 + b'", "role": "viewer"}',
            headers={**tenant.headers(), "content-type": "application/json"},
        )
        body = assert_problem(response, 413, "payload_too_large")
        assert "2048" in str(body["detail"])
        assert response.headers["x-content-type-options"] == "nosniff"

    async def test_streamed_body_over_the_limit(
        self, small_app: FastAPI, small_client: httpx.AsyncClient
    ) -> None:
        tenant = await _tenant(small_app)

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"x" * 1000

        # No Content-Length: the limit is enforced while the body is read.
        response = await small_client.post(
            "/api/v1/api-keys",
            content=chunks(),
            headers={**tenant.headers(), "content-type": "application/json"},
        )
        assert "content-length" not in response.request.headers
        assert_problem(response, 413, "payload_too_large")

    async def test_under_the_limit_passes(
        self, small_app: FastAPI, small_client: httpx.AsyncClient
    ) -> None:
        tenant = await _tenant(small_app)
        response = await small_client.post(
            "/api/v1/api-keys", json={"name": "ci", "role": "viewer"}, headers=tenant.headers()
        )
        assert response.status_code == 201

    async def test_uploads_have_their_own_limit(
        self, small_app: FastAPI, small_client: httpx.AsyncClient
    ) -> None:
        tenant = await _tenant(small_app)
        headers = {**tenant.headers(), "content-type": "audio/wav"}
        # 3000 bytes: over the JSON limit, under the upload one (the route does not exist, so
        # reaching it at all is a 404 rather than a 413).
        allowed = await small_client.post(
            "/api/v1/upload-probe", content=b"x" * 3000, headers=headers
        )
        assert allowed.status_code == 404
        refused = await small_client.post(
            "/api/v1/upload-probe", content=b"x" * 5000, headers=headers
        )
        assert_problem(refused, 413, "payload_too_large")


async def _tenant(app: FastAPI) -> TenantKeys:
    from tests.conftest import make_tenant

    tenant = await make_tenant(app.state.db, "acme")
    assert Role.owner in tenant.keys
    return tenant


async def test_a_content_length_that_is_not_a_number(small_app: FastAPI) -> None:
    """Sent straight to the ASGI app: HTTP clients refuse to send such a header."""
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/api-keys",
        "raw_path": b"/api/v1/api-keys",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"12abc")],
        "client": ("127.0.0.1", 1234),
        "server": ("midcore.test", 80),
        "state": {},
    }
    await small_app(scope, receive, send)  # type: ignore[arg-type]
    start = sent[0]
    assert start["status"] == 400
    headers = dict(start["headers"])  # type: ignore[call-overload]
    assert headers[b"content-type"] == b"application/problem+json"
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert b"Content-Length" in sent[1]["body"]  # type: ignore[operator]
