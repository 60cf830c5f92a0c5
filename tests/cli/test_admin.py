from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.e2e.conftest import midcore_env, run_midcore, start_server, stop_server


def test_version(tmp_path: Path) -> None:
    result = run_midcore("--version", env=midcore_env(tmp_path))
    assert result.returncode == 0
    assert result.stdout.startswith("midcore ")


def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    env = midcore_env(tmp_path)
    for args in (
        ["frobnicate"],
        ["admin", "create-key", "--role", "emperor", "--tenant", "x"],
        [
            "admin",
            "create-key",
            "--role",
            "viewer",
            "--tenant",
            "x",
            "--expires-in-days",
            "99999999",
        ],
        ["serve", "--port", "99999"],
    ):
        result = run_midcore(*args, env=env)
        assert result.returncode == 2, result
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("midcore: error: ")


def test_db_upgrade_then_current(tmp_path: Path) -> None:
    env = midcore_env(tmp_path / "data")
    upgrade = run_midcore("db", "upgrade", env=env)
    assert upgrade.returncode == 0, upgrade.stderr
    assert "revision" in upgrade.stdout
    current = run_midcore("db", "current", env=env)
    revision = upgrade.stdout.split()[-1]
    assert current.stdout.strip() == f"database: {revision}; newest: {revision}"


def test_create_tenant_and_key_work_against_the_server(tmp_path: Path) -> None:
    env = midcore_env(tmp_path / "data")
    tenant = run_midcore("admin", "create-tenant", "team-a", "--json", env=env)
    assert tenant.returncode == 0, tenant.stderr
    owner_key = json.loads(tenant.stdout)["key"]
    key = run_midcore(
        "admin", "create-key", "--tenant", "team-a", "--role", "operator", "--json", env=env
    )
    assert key.returncode == 0, key.stderr
    operator_key = json.loads(key.stdout)["key"]
    duplicate = run_midcore("admin", "create-tenant", "team-a", env=env)
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr
    missing = run_midcore("admin", "create-key", "--tenant", "nope", "--role", "viewer", env=env)
    assert missing.returncode == 2
    assert "no tenant 'nope'" in missing.stderr

    server = start_server(tmp_path / "data", env)
    try:
        for plaintext, role in ((owner_key, "owner"), (operator_key, "operator")):
            me = httpx.get(f"{server.url}/api/v1/auth/me", headers={"X-API-Key": plaintext})
            assert me.json()["role"] == role
            assert me.json()["tenant"]["slug"] == "team-a"
    finally:
        stop_server(server)


def test_set_password_for_an_unknown_user(tmp_path: Path) -> None:
    import subprocess

    from tests.e2e.conftest import MIDCORE

    result = subprocess.run(
        [MIDCORE, "admin", "set-password", "nobody@acme.test"],
        input="a long enough password\n",
        env=midcore_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "midcore: error: no user nobody@acme.test"
