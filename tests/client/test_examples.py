"""The README's example program and CI script, run against a real server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.client.fixtures import Served
from tests.e2e.conftest import MIDCORE, midcore_env
from tests.runs.conftest import FIXING_AGENT

EXAMPLES = Path(__file__).parents[2] / "examples"


def _env(served: Served, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = midcore_env(tmp_path / "d", MIDCORE_URL=served.url, MIDCORE_API_KEY=served.key, **extra)
    # The script calls `midcore` by name, as a CI job would after installing it.
    env["PATH"] = f"{Path(MIDCORE).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_example_program_follows_a_run_to_success(served: Served, tmp_path: Path) -> None:
    agent = served.agent(FIXING_AGENT, "{task}", name="example-agent.py")
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "run_and_follow.py"), str(served.repo()), "fix", *agent],
        env=_env(served, tmp_path), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "fixed calc.py" in result.stdout
    assert "gate tests: passed" in result.stderr
    assert result.stderr.splitlines()[-1].endswith("succeeded (gates_passed)")


def test_ci_script_passes_and_fails_with_the_gates(served: Served, tmp_path: Path) -> None:
    fixing = f"{sys.executable} {served.agent(FIXING_AGENT, name='ci-agent.py')[1]} {{task}}"
    for agent, code in ((fixing, 0), ("true", 1)):
        result = subprocess.run(
            ["sh", str(EXAMPLES / "ci-run.sh"), "make the failing test pass"],
            env=_env(served, tmp_path, WORKSPACE=str(served.repo()), AGENT=agent,
                     RUN_KEY=f"ci-{code}"),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == code, result.stderr
        verdict = "passed" if code == 0 else "failed"
        assert f"gate tests: {verdict}" in result.stderr
