"""`midcore gates` through the installed console script, as CI runs it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.e2e.conftest import midcore_env, start_server, stop_server
from tests.gates.conftest import Repo, midcore_cli

MakeRepo = Callable[..., Repo]

PASSING = """
[gates.ok]
kind = "command"
run = ["python", "-c", "print('ok')"]

[gates.lint]
kind = "ruff"
"""


def test_exit_0_when_required_gates_pass(make_repo: MakeRepo, data_dir: Path) -> None:
    repo = make_repo({"midcore.toml": PASSING, "m.py": "x = 1\n"})
    out = midcore_cli(["gates", "run", str(repo.root)], repo.root, data_dir)
    assert out.returncode == 0, out.stderr
    assert "ok" in out.stdout and "passed" in out.stdout and "PASSED" in out.stdout
    again = midcore_cli(["gates", "run", "--format", "json"], repo.root, data_dir)
    data = json.loads(again.stdout)
    assert again.returncode == 0
    assert [g["is_cached"] for g in data["gates"]] == [True, True]
    assert data["summary"]["cached"] == 2


def test_exit_1_and_reports_when_a_required_gate_fails(
    make_repo: MakeRepo, data_dir: Path, tmp_path: Path
) -> None:
    repo = make_repo({"midcore.toml": PASSING, "m.py": "import os\n"})
    junit, sarif = tmp_path / "out" / "gates.xml", tmp_path / "out" / "gates.sarif"
    out = midcore_cli(
        ["gates", "run", "--junit-xml", str(junit), "--sarif", str(sarif), "--format", "json"],
        repo.root,
        data_dir,
    )
    assert out.returncode == 1
    data = json.loads(out.stdout)
    assert {g["name"]: g["verdict"] for g in data["gates"]} == {"ok": "passed", "lint": "failed"}
    assert "<testsuites" in junit.read_text()
    assert json.loads(sarif.read_text())["runs"][0]["results"][0]["ruleId"] == "F401"


def test_exit_2_on_malformed_config_with_file_and_key(make_repo: MakeRepo, data_dir: Path) -> None:
    repo = make_repo({"midcore.toml": '[gates.tests]\nkind = "pytest"\nretries = "twice"\n'})
    out = midcore_cli(["gates", "run"], repo.root, data_dir)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1
    assert out.stderr.startswith("midcore: error: midcore.toml: gate 'tests': key 'retries'")
    assert out.stdout == ""


def test_exit_2_on_usage_errors(make_repo: MakeRepo, data_dir: Path) -> None:
    repo = make_repo({"midcore.toml": PASSING})
    cases = [
        (["gates", "run", "--only", "nope"], "--only: unknown gate 'nope' (gates: ok, lint)"),
        (["gates", "run", "--changed-since", "no-such-ref"], "ref 'no-such-ref' does not name"),
        (["gates", "run", "--format", "yaml"], "--format"),
        (["gates", "run", str(repo.root / "missing")], "not a directory"),
    ]
    for args, message in cases:
        out = midcore_cli(args, repo.root, data_dir)
        assert out.returncode == 2, (args, out.stderr)
        assert message in out.stderr, (args, out.stderr)


def test_only_skip_lists(make_repo: MakeRepo, data_dir: Path) -> None:
    repo = make_repo({"midcore.toml": PASSING, "m.py": "import os\n"})
    out = midcore_cli(["gates", "run", "--skip", "lint", "--format", "json"], repo.root, data_dir)
    assert out.returncode == 0
    out = midcore_cli(
        ["gates", "run", "--only", "ok,lint", "--format", "json"], repo.root, data_dir
    )
    assert out.returncode == 1


def test_readiness(make_repo: MakeRepo, data_dir: Path) -> None:
    repo = make_repo(
        {
            "midcore.toml": PASSING
            + '\n[gates.gone]\nkind = "command"\nrun = ["midcore-absent"]\n',
            "m.py": "x = 1\n",
        }
    )
    before = midcore_cli(["gates", "readiness", "--json"], repo.root, data_dir)
    assert before.returncode == 1
    report = json.loads(before.stdout)
    assert report["ready"] is False
    assert "ok: never run" in report["reasons"]
    assert "gone: midcore-absent is not installed" in report["reasons"]
    midcore_cli(["gates", "run"], repo.root, data_dir)
    after = json.loads(midcore_cli(["gates", "readiness", "--json"], repo.root, data_dir).stdout)
    by_name = {g["name"]: g for g in after["gates"]}
    assert by_name["ok"]["freshness"] == "current"
    assert by_name["ok"]["is_cached"] is True
    assert by_name["ok"]["last"]["verdict"] == "passed"
    assert by_name["ok"]["last"]["git_commit"] == repo.git("rev-parse", "HEAD")
    assert by_name["lint"]["tool"]["version"].startswith("ruff ")
    assert after["reasons"] == ["gone: midcore-absent is not installed"]
    repo.write({"m.py": "x = 2\n"})
    repo.commit("next")
    later = json.loads(midcore_cli(["gates", "readiness", "--json"], repo.root, data_dir).stdout)
    by_name = {g["name"]: g for g in later["gates"]}
    assert by_name["lint"]["freshness"] == "stale"
    assert by_name["ok"]["freshness"] == "stale"  # command gates read every file
    text = midcore_cli(["gates", "readiness"], repo.root, data_dir)
    assert "not ready" in text.stdout and "stale" in text.stdout


def test_verdicts_are_appended_to_the_local_ledger(make_repo: MakeRepo, data_dir: Path) -> None:
    repo = make_repo({"midcore.toml": PASSING, "m.py": "x = 1\n"})
    first = json.loads(
        midcore_cli(["gates", "run", "--format", "json"], repo.root, data_dir).stdout
    )
    # One test-result statement per gate and one for the set.
    assert len(first["evidence"]["entry_ids"]) == 3
    assert first["evidence"]["tree_size"] == 3
    second = json.loads(
        midcore_cli(["gates", "run", "--format", "json"], repo.root, data_dir).stdout
    )
    assert second["evidence"]["tree_size"] == 6
    assert set(first["evidence"]["entry_ids"]).isdisjoint(second["evidence"]["entry_ids"])
    skipped = midcore_cli(
        ["gates", "run", "--format", "json", "--no-evidence"], repo.root, data_dir
    )
    assert json.loads(skipped.stdout)["evidence"] is None
    # The ledger is the one a server on this data directory serves, and its pack verifies.
    created = midcore_cli(
        ["admin", "create-key", "--tenant", "default", "--role", "admin", "--json"],
        repo.root,
        data_dir,
    )
    admin_key = json.loads(created.stdout)["key"]
    server = start_server(data_dir, midcore_env(data_dir))
    try:
        pack = httpx.get(
            f"{server.url}/api/v1/autonomy/evidence-pack",
            params={"format": "zip"},
            headers={"X-API-Key": admin_key},
            timeout=30,
        )
    finally:
        stop_server(server)
    assert pack.status_code == 200
    (data_dir / "pack.zip").write_bytes(pack.content)
    verified = midcore_cli(["evidence", "verify", str(data_dir / "pack.zip")], repo.root, data_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "6" in verified.stdout
