"""A real workspace (a git repository with a failing test) and real agent scripts."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from midcore.config import Settings
from tests.conftest import TenantKeys

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}

CALC = "def add(a, b):\n    return a - b\n"
TEST_CALC = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
GATES = '[gates.tests]\nkind = "pytest"\ntimeout_seconds = 120\n'

# An agent that fixes the bug, says what it does, and exits 0.
FIXING_AGENT = textwrap.dedent(
    """
    import pathlib, sys
    print("task:", sys.argv[1], flush=True)
    path = pathlib.Path("calc.py")
    path.write_text(path.read_text().replace("a - b", "a + b"))
    print("fixed calc.py", flush=True)
    print("a warning", file=sys.stderr, flush=True)
    """
)


def git(cwd: Path, *args: str) -> str:
    import os

    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    ).stdout


def make_repo(root: Path, name: str = "app", files: dict[str, str] | None = None) -> Path:
    repo = root / name
    repo.mkdir(parents=True)
    contents = files or {"calc.py": CALC, "test_calc.py": TEST_CALC, "midcore.toml": GATES}
    for relative, text in contents.items():
        path = repo / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    return repo


@pytest.fixture
def repo(settings: Settings) -> Path:
    return make_repo(settings.workspace_roots[0])


def script_agent(tmp_path: Path, source: str, name: str = "agent.py") -> list[str]:
    path = tmp_path / name
    path.write_text(source)
    return [sys.executable, str(path), "{task}"]


def run_body(repo: Path, command: list[str], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task": "make the failing test pass",
        "workspace": {"path": str(repo)},
        "agent": {"kind": "command", "command": command},
        "budget_seconds": 120,
    }
    body.update(extra)
    return body


async def wait_for_end(
    client: httpx.AsyncClient, tenant: TenantKeys, run_id: str, seconds: float = 120
) -> dict[str, Any]:
    """Poll until the run is in a terminal state (the executor runs in the app's loop)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        run = (await client.get(f"/api/v1/autonomy/runs/{run_id}", headers=tenant.headers())).json()
        if run["status"] in {"succeeded", "failed", "cancelled", "timed_out", "error"}:
            return dict(run)
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} did not end: {run}")


async def wait_for_status(
    client: httpx.AsyncClient, tenant: TenantKeys, run_id: str, status: str, seconds: float = 60
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        run = (await client.get(f"/api/v1/autonomy/runs/{run_id}", headers=tenant.headers())).json()
        if run["status"] == status:
            return dict(run)
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never reached {status}: {run}")


@pytest.fixture
async def tenant_app_client(settings: Settings) -> Any:
    """An app with a single execution slot, its client and a tenant (for queueing tests)."""
    from midcore.app import create_app
    from tests.conftest import make_tenant

    app = create_app(settings.model_copy(update={"max_concurrent_runs": 1}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://midcore.test") as client:
            yield client, await make_tenant(app.state.db, "solo")
