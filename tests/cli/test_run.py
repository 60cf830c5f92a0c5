from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.e2e.conftest import midcore_env, run_midcore
from tests.runs.conftest import FIXING_AGENT, make_repo


def test_local_run_succeeds_and_shows_progress(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    agent = tmp_path / "agent.py"
    agent.write_text(FIXING_AGENT)
    result = run_midcore(
        "run", "fix add", "--workspace", str(repo), "--agent-command",
        f"{sys.executable} {agent} {{task}}",
        env=midcore_env(tmp_path / "data"), timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "fixed calc.py" in result.stdout
    assert "gate tests: passed" in result.stderr
    assert "succeeded (gates_passed)" in result.stderr
    assert "a - b" in (repo / "calc.py").read_text()  # the run changed its own copy


def test_local_run_that_fails_its_gates_exits_1_with_json(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    result = run_midcore(
        "run", "do nothing", "-w", str(repo), "-a", "true", "--json",
        env=midcore_env(tmp_path / "data"), timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    run = json.loads(result.stdout)
    assert (run["status"], run["status_reason"]) == ("failed", "gate_failed:tests")


def test_local_run_usage_errors(tmp_path: Path) -> None:
    env = midcore_env(tmp_path / "data")
    missing = run_midcore("run", "x", "-w", str(tmp_path / "nope"), "-a", "true", env=env)
    assert missing.returncode == 2
    assert (
        missing.stderr.strip() == f"midcore: error: workspace {tmp_path / 'nope'} is not a folder"
    )
    unbalanced = run_midcore("run", "x", "-w", str(tmp_path), "-a", "echo 'oops", env=env)
    assert unbalanced.returncode == 2
    assert unbalanced.stderr.startswith("midcore: error: --agent-command:")
    repo = make_repo(tmp_path)
    empty_task = run_midcore("run", "", "-w", str(repo), "-a", "true", env=env)
    assert empty_task.returncode == 2
    assert empty_task.stderr.startswith("midcore: error: invalid task:")
    unknown_gate = run_midcore("run", "x", "-w", str(repo), "-a", "true", "--gate", "nope", env=env)
    assert unknown_gate.returncode == 2
    assert "unknown gate 'nope'" in unknown_gate.stderr
