"""The README's promise: `midcore serve` on a fresh data directory, then the API with its key."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.conftest import (
    RunningServer,
    midcore_env,
    run_midcore,
    start_server,
    stop_server,
)
from tests.test_app import STRONG_SECRET


def test_first_start_prints_a_working_owner_key(server: RunningServer) -> None:
    key = server.printed_key()
    response = httpx.get(
        f"{server.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert response.status_code == 200
    body = response.json()
    assert body["tenant"]["slug"] == "default"
    assert body["role"] == "owner"
    assert (server.data_dir / "midcore.db").exists()
    anonymous = httpx.get(f"{server.url}/api/v1/auth/me", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"


def test_second_start_prints_no_new_key(tmp_path: Path) -> None:
    first = start_server(tmp_path / "data")
    key = first.printed_key()
    stop_server(first)
    second = start_server(tmp_path / "data")
    try:
        assert "mc_" not in "".join(second.output)
        me = httpx.get(f"{second.url}/api/v1/auth/me", headers={"X-API-Key": key}, timeout=10)
        assert me.status_code == 200
    finally:
        stop_server(second)


def test_production_without_secret_refuses_to_start(tmp_path: Path) -> None:
    result = run_midcore("serve", env=midcore_env(tmp_path, MIDCORE_ENV="production"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "midcore: error: MIDCORE_SECRET_KEY is required when MIDCORE_ENV=production"
    ]


def test_production_docs_are_off_over_http(tmp_path: Path) -> None:
    env = midcore_env(
        tmp_path / "data",
        MIDCORE_ENV="production",
        MIDCORE_SECRET_KEY=STRONG_SECRET,
    )
    running = start_server(tmp_path / "data", env)
    try:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert httpx.get(running.url + path, timeout=10).status_code == 404
        assert httpx.get(running.url + "/readyz", timeout=10).status_code == 200
    finally:
        stop_server(running)
