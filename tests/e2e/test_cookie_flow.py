"""A person signing in over a real socket: password set with the CLI, cookie, CSRF, sign-out."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from tests.e2e.conftest import MIDCORE, midcore_env, run_midcore, start_server, stop_server

PASSWORD = "a long enough password"


def test_cookie_flow(tmp_path: Path) -> None:
    env = midcore_env(tmp_path / "data")
    created = run_midcore("admin", "create-tenant", "acme", "--json", env=env)
    assert created.returncode == 0, created.stderr
    owner_key = created.stdout.split('"key": "')[1].split('"')[0]
    server = start_server(tmp_path / "data", env)
    try:
        added = httpx.post(
            f"{server.url}/api/v1/members",
            json={"email": "ada@acme.test", "role": "admin"},
            headers={"Authorization": f"Bearer {owner_key}"},
            timeout=10,
        )
        assert added.status_code == 201, added.text
        too_short = subprocess.run(
            [MIDCORE, "admin", "set-password", "ada@acme.test"],
            input="short\n",
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert too_short.returncode == 2  # bad input: a usage error
        assert too_short.stderr.startswith("midcore: error: a password needs at least")
        set_password = subprocess.run(
            [MIDCORE, "admin", "set-password", "ada@acme.test"],
            input=PASSWORD + "\n",
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert set_password.returncode == 0, set_password.stderr

        with httpx.Client(base_url=server.url, timeout=10) as browser:
            login = browser.post(
                "/api/v1/auth/login", json={"email": "ada@acme.test", "password": PASSWORD}
            )
            assert login.status_code == 200, login.text
            assert "httponly" in login.headers["set-cookie"].lower()
            old_cookie = browser.cookies["midcore_session"]
            csrf = browser.get("/api/v1/auth/me").json()["csrf_token"]
            assert csrf == login.json()["csrf_token"]

            body = {"name": "from the browser", "role": "viewer"}
            missing = browser.post("/api/v1/api-keys", json=body)
            assert missing.status_code == 403
            assert missing.json()["code"] == "csrf_failed"
            assert missing.headers["content-type"] == "application/problem+json"
            created_key = browser.post(
                "/api/v1/api-keys", json=body, headers={"X-CSRF-Token": csrf}
            )
            assert created_key.status_code == 201, created_key.text

            logout = browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
            assert logout.status_code == 204
            assert "midcore_session" not in browser.cookies

        with httpx.Client(base_url=server.url, timeout=10) as replay:
            replay.cookies.set("midcore_session", old_cookie)
            reused = replay.get("/api/v1/auth/me")
            assert reused.status_code == 401
            assert reused.json()["code"] == "session_invalid"
    finally:
        stop_server(server)
