"""What an agent can and cannot touch, with bubblewrap (installed by the project's scripts)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from midcore.auth.roles import Role
from tests.conftest import IN_CI, TenantKeys
from tests.runs.conftest import run_body, script_agent, wait_for_end
from tests.test_app import assert_problem

if shutil.which("bwrap") is None:
    if IN_CI:
        raise RuntimeError("bubblewrap is required in CI (scripts/system-packages installs it)")
    pytest.skip("bubblewrap is not installed", allow_module_level=True)

PROBE = """
import os, pathlib, socket, sys
results = {}
def attempt(name, action):
    try:
        action()
        results[name] = "allowed"
    except OSError as exc:
        results[name] = f"denied ({exc.__class__.__name__})"
attempt("workspace", lambda: pathlib.Path("inside.txt").write_text("ok"))
attempt("source", lambda: pathlib.Path(sys.argv[2], "escaped.txt").write_text("no"))
attempt("etc", lambda: pathlib.Path("/etc/midcore-escape").write_text("no"))
attempt("data", lambda: pathlib.Path(sys.argv[3], "midcore.db").read_bytes())
def connect():
    s = socket.create_connection(("127.0.0.1", 5432), timeout=2)
    s.close()
attempt("network", connect)
attempt("tmpdir", lambda: pathlib.Path(os.environ["TMPDIR"], "x").write_text("ok"))
print(sorted(os.environ))
for name, outcome in sorted(results.items()):
    print(name, outcome)
"""


async def test_agent_is_confined(
    client: httpx.AsyncClient,
    tenant: TenantKeys,
    repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MIDCORE_SECRET_KEY", "server-secret-value")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "cloud-secret-value")
    data_dir = tmp_path / "data"
    command = [*script_agent(tmp_path, PROBE), str(repo), str(data_dir)]
    body = run_body(repo, command, gates=[])
    run_id = (
        await client.post("/api/v1/autonomy/run", json=body, headers=tenant.headers(Role.operator))
    ).json()["run_id"]
    run = await wait_for_end(client, tenant, run_id)
    assert run["isolation"]["kind"] == "bwrap"
    assert run["isolation"]["network"] is False
    events = (
        await client.get(f"/api/v1/autonomy/runs/{run_id}/events", headers=tenant.headers())
    ).json()
    output = "".join(e["data"]["text"] for e in events["items"] if e["type"] == "agent.output")
    outcomes = dict(line.split(" ", 1) for line in output.splitlines()[1:])
    assert outcomes["workspace"] == "allowed"
    assert outcomes["tmpdir"] == "allowed"
    for name in ("source", "etc", "data", "network"):
        assert outcomes[name].startswith("denied"), (name, outcomes[name])
    assert not (repo / "escaped.txt").exists()
    assert "server-secret-value" not in output and "MIDCORE_SECRET_KEY" not in output
    assert "AWS_SECRET_ACCESS_KEY" not in output
    assert os.environ["MIDCORE_SECRET_KEY"] == "server-secret-value"


async def test_network_needs_the_servers_permission(
    client: httpx.AsyncClient, tenant: TenantKeys, repo: Path
) -> None:
    body = run_body(repo, ["true"], gates=[])
    body["agent"]["network"] = True
    response = await client.post(
        "/api/v1/autonomy/run", json=body, headers=tenant.headers(Role.operator)
    )
    problem = assert_problem(response, 422, "validation_failed")
    assert "MIDCORE_ALLOW_AGENT_NETWORK" in str(problem["detail"])
