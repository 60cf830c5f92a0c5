from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from midcore.app import create_app
from midcore.config import Settings
from midcore.errors import ConfigurationError

STRONG_SECRET = "k3Jq9vTz2LmX8pR4wYc6NbH1sDfG5aQe7UoIiPl0"  # midcore: allow-secret


async def _client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://midcore.test")


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert set(body) >= {"type", "title", "status", "detail", "code", "request_id"}
    assert body["request_id"] == response.headers["x-request-id"]
    return body


class TestHealth:
    async def test_healthz(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert response.headers["x-request-id"]

    async def test_readyz_when_migrated(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["status"] == "ready"

    async def test_readyz_reports_pending_migrations(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path, auto_migrate=False, bootstrap=False)
        app = create_app(settings)
        async with app.router.lifespan_context(app), await _client_for(app) as client:
            body = assert_problem(await client.get("/readyz"), 503, "migrations_pending")
        assert "midcore db upgrade" in str(body["detail"])

    async def test_metrics_count_requests_by_route_template(
        self, client: httpx.AsyncClient
    ) -> None:
        await client.get("/healthz")
        await client.delete("/api/v1/members/some-user-id")
        text = (await client.get("/metrics")).text
        assert 'midcore_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
        # The template, not the concrete path, keeps the label set small.
        assert 'method="DELETE",route="/api/v1/members/{user_id}",status="401"' in text
        assert "midcore_http_request_duration_seconds_bucket" in text


class TestErrors:
    async def test_unknown_route_is_a_problem(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/nowhere"), 404, "not_found")

    async def test_wrong_method_is_a_problem(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.delete("/healthz"), 405, "method_not_allowed")

    async def test_client_request_id_is_kept(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": "ci-job-42"})
        assert response.headers["x-request-id"] == "ci-job-42"

    async def test_unsafe_client_request_id_is_replaced(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
        assert response.headers["x-request-id"] != "bad id\twith spaces"

    async def test_unexpected_error_is_a_500_problem_without_traceback(
        self, settings: Settings, caplog: pytest.LogCaptureFixture
    ) -> None:
        app = create_app(settings)

        @app.get("/boom")
        async def boom() -> None:
            raise RuntimeError("secret internal detail")

        async with app.router.lifespan_context(app), await _client_for(app) as client:
            response = await client.get("/boom")
        body = assert_problem(response, 500, "internal_error")
        assert "secret internal detail" not in response.text
        assert "Traceback" not in response.text
        # The log has the request id, so the operator can find the traceback.
        assert any(body["request_id"] in r.getMessage() for r in caplog.records)


class TestProduction:
    def test_refuses_to_start_without_secret(self) -> None:
        with pytest.raises(ConfigurationError, match="MIDCORE_SECRET_KEY is required"):
            create_app(Settings(env="production"))

    @pytest.mark.parametrize("secret", ["changeme", "short", "a" * 40])
    def test_refuses_weak_secret(self, secret: str) -> None:
        with pytest.raises(ConfigurationError, match="MIDCORE_SECRET_KEY"):
            create_app(Settings(env="production", secret_key=secret))

    @pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
    async def test_docs_are_off(self, path: str, tmp_path: Path) -> None:
        settings = Settings(env="production", secret_key=STRONG_SECRET, data_dir=tmp_path)
        app = create_app(settings)
        async with app.router.lifespan_context(app), await _client_for(app) as client:
            assert_problem(await client.get(path), 404, "not_found")

    @pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
    async def test_docs_are_on_in_development(self, path: str, client: httpx.AsyncClient) -> None:
        response = await client.get(path)
        assert response.status_code == 200
