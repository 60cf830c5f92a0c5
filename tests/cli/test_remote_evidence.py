"""`midcore evidence list|show|checkpoint|export` against a real server, then `verify` offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.client.fixtures import Served
from tests.e2e.conftest import midcore_env, run_midcore


@pytest.fixture
def env(served: Served, tmp_path: Path) -> dict[str, str]:
    return midcore_env(tmp_path / "cli-data", MIDCORE_URL=served.url, MIDCORE_API_KEY=served.key)


def test_list_and_show(env: dict[str, str], ledger: list[dict[str, Any]]) -> None:
    listed = run_midcore("evidence", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert sorted(e["log_index"] for e in entries) == list(range(len(ledger)))
    assert entries[0]["subject_digest"]["gitCommit"] == "a" * 40  # the API's own names
    table = run_midcore("evidence", "list", "--gate", "gate-1", env=env)
    assert table.returncode == 0 and "gate-1" in table.stdout and "gate-0" not in table.stdout

    entry_id = entries[0]["id"]
    shown = run_midcore("evidence", "show", entry_id, "--json", env=env)
    assert json.loads(shown.stdout)["entry"]["id"] == entry_id
    human = run_midcore("evidence", "show", entry_id, env=env)
    assert human.returncode == 0 and f"entry      {entry_id}" in human.stdout
    missing = run_midcore("evidence", "show", "01nosuchentry", env=env)
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr


def test_checkpoint(env: dict[str, str], ledger: list[dict[str, Any]]) -> None:
    signed = run_midcore("evidence", "checkpoint", "--json", env=env)
    assert signed.returncode == 0, signed.stderr
    checkpoint = json.loads(signed.stdout)
    assert checkpoint["tree_size"] == len(ledger)
    human = run_midcore("evidence", "checkpoint", env=env)
    assert human.stdout.strip() == checkpoint["checkpoint"].strip()
    assert human.stderr.startswith("key ")


def test_export_then_verify_offline(
    env: dict[str, str], ledger: list[dict[str, Any]], tmp_path: Path
) -> None:
    pack = tmp_path / "pack.zip"
    exported = run_midcore("evidence", "export", str(pack), "--json", env=env)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout) == {"path": str(pack), "bytes": pack.stat().st_size}
    offline = midcore_env(tmp_path / "offline")  # no server from here on
    verified = run_midcore("evidence", "verify", str(pack), env=offline)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("OK ")
    human = run_midcore("evidence", "export", str(tmp_path / "g.zip"), "--gate", "gate-0", env=env)
    assert human.returncode == 0 and human.stderr.startswith(f"wrote {tmp_path / 'g.zip'}")


def test_a_viewer_may_not_export(served: Served, env: dict[str, str], tmp_path: Path) -> None:
    with served.client() as client:
        viewer = client.api_keys.create("viewer-export", "viewer").key
    denied = run_midcore(
        "evidence", "export", str(tmp_path / "p.zip"), env={**env, "MIDCORE_API_KEY": viewer}
    )
    assert denied.returncode == 1 and "HTTP 403" in denied.stderr
    assert not (tmp_path / "p.zip").exists() and not (tmp_path / "p.zip.part").exists()
