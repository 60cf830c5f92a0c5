"""Each gate kind and each verdict, with the real tools run as subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from midcore.gates.models import GateSetResult, Verdict
from tests.gates.conftest import PACKAGE, Repo, gate

Run = Callable[..., GateSetResult]
MakeRepo = Callable[..., Repo]


def test_pytest_passes_and_fails(make_repo: MakeRepo, run: Run) -> None:
    repo = make_repo(
        {
            **PACKAGE,
            "midcore.toml": """
                [gates.good]
                kind = "pytest"
                args = ["tests/test_calc.py"]

                [gates.bad]
                kind = "pytest"
                args = ["tests/test_broken.py"]
                """,
            "tests/test_broken.py": """
                from calc import add


                def test_wrong() -> None:
                    assert add(2, 2) == 5


                def test_right() -> None:
                    assert add(2, 2) == 4
                """,
        }
    )
    result = run(repo)
    good, bad = gate(result, "good"), gate(result, "bad")
    assert good.verdict is Verdict.passed
    assert good.counts["passed"] == 2
    assert bad.verdict is Verdict.failed
    assert bad.counts == {
        "tests": 2,
        "passed": 1,
        "failed": 1,
        "error": 0,
        "skipped": 0,
        "flaky": 0,
    }
    assert [t.id for t in bad.tests if t.outcome == "failed"] == ["tests.test_broken.test_wrong"]
    assert "assert 4 == 5" in (bad.tests[0].message or "")
    assert result.exit_code == 1
    # Gates write their reports outside the workspace.
    assert not (repo.root / ".pytest_cache").exists()


def test_pytest_retries_only_failing_tests_and_reports_flaky(
    make_repo: MakeRepo, run: Run, tmp_path: Path
) -> None:
    marker, log = tmp_path / "flaky-marker", tmp_path / "runs.log"
    repo = make_repo(
        {
            **PACKAGE,
            "midcore.toml": f"""
                [gates.tests]
                kind = "pytest"
                retries = 2
                env = {{ FLAKY_MARKER = "{marker}", RUN_LOG = "{log}" }}
                """,
            "tests/test_flaky.py": """
                import os
                from pathlib import Path


                def test_flaky() -> None:
                    marker = Path(os.environ["FLAKY_MARKER"])
                    if not marker.exists():
                        marker.write_text("failed once")
                        raise AssertionError("first run fails")


                def test_stable() -> None:
                    with open(os.environ["RUN_LOG"], "a") as fh:
                        fh.write("stable ran\\n")
                """,
        }
    )
    result = run(repo)
    tests = gate(result, "tests")
    assert tests.verdict is Verdict.passed
    assert tests.is_warning
    assert tests.counts["flaky"] == 1
    assert [t.id for t in tests.tests if t.outcome == "flaky"] == ["tests.test_flaky.test_flaky"]
    assert log.read_text() == "stable ran\n"  # the passing test was not run again
    assert result.exit_code == 0
    assert result.summary["warnings"] == 1


def test_pytest_still_failing_after_retries(make_repo: MakeRepo, run: Run) -> None:
    repo = make_repo(
        {
            "midcore.toml": '[gates.tests]\nkind = "pytest"\nretries = 1\n',
            "tests/test_x.py": "def test_always() -> None:\n    assert False\n",
        }
    )
    tests = gate(run(repo), "tests")
    assert tests.verdict is Verdict.failed
    assert tests.counts["failed"] == 1 and tests.counts["flaky"] == 0


def test_pytest_without_tests_is_skipped(make_repo: MakeRepo, run: Run) -> None:
    repo = make_repo({"midcore.toml": '[gates.tests]\nkind = "pytest"\n', "app.py": "x = 1\n"})
    tests = gate(run(repo), "tests")
    assert tests.verdict is Verdict.skipped
    assert "no tests collected" in tests.reason


def test_ruff_findings_and_clean(make_repo: MakeRepo, run: Run) -> None:
    repo = make_repo(
        {
            "midcore.toml": """
                [gates.clean]
                kind = "ruff"
                args = ["clean.py"]

                [gates.dirty]
                kind = "ruff"
                args = ["dirty.py"]
                """,
            "clean.py": "VALUE = 1\n",
            "dirty.py": "import os\n\nVALUE = undefined_name\n",
        }
    )
    result = run(repo)
    assert gate(result, "clean").verdict is Verdict.passed
    dirty = gate(result, "dirty")
    assert dirty.verdict is Verdict.failed
    rules = {(f.path, f.line, f.rule) for f in dirty.findings}
    assert ("dirty.py", 1, "F401") in rules
    assert ("dirty.py", 3, "F821") in rules
    assert all(f.help_uri for f in dirty.findings)


def test_mypy_findings_and_clean(make_repo: MakeRepo, run: Run, data_dir: Path) -> None:
    repo = make_repo(
        {
            "midcore.toml": """
                [gates.typed]
                kind = "mypy"
                args = ["good.py"]

                [gates.untyped]
                kind = "mypy"
                args = ["bad.py"]
                """,
            "good.py": "def f(x: int) -> int:\n    return x\n",
            "bad.py": 'def f(x: int) -> int:\n    return x\n\n\nf("text")\n',
        }
    )
    result = run(repo)
    assert gate(result, "typed").verdict is Verdict.passed
    untyped = gate(result, "untyped")
    assert untyped.verdict is Verdict.failed
    [finding] = untyped.findings
    assert (finding.path, finding.line, finding.rule) == ("bad.py", 5, "arg-type")
    assert finding.column == 3
    # mypy's incremental cache outlives the run (found on Midcore itself: 50 s cold each time).
    caches = sorted(p.name.split("-", 1)[1] for p in (data_dir / "gates" / "mypy-cache").iterdir())
    assert caches == ["typed", "untyped"]


def test_bandit_findings_and_clean(make_repo: MakeRepo, run: Run) -> None:
    repo = make_repo(
        {
            "midcore.toml": """
                [gates.security]
                kind = "bandit"
                """,
            "app.py": "import subprocess\n\n\ndef go(cmd):\n    subprocess.call(cmd, shell=True)\n",
        }
    )
    security = gate(run(repo), "security")
    assert security.verdict is Verdict.failed
    [finding] = security.findings
    assert (finding.path, finding.line, finding.rule) == ("app.py", 5, "B602")
    assert finding.severity == "error"  # bandit rates it HIGH
    repo.write({"app.py": "def go(cmd):\n    return cmd\n"})
    assert gate(run(repo), "security").verdict is Verdict.passed


def test_coverage_measured_and_from_report(make_repo: MakeRepo, run: Run) -> None:
    repo = make_repo(
        {
            **PACKAGE,
            "calc/extra.py": "def unused(x):\n    if x:\n        return 1\n    return 2\n",
            "tests/test_extra.py": "import calc.extra  # noqa: F401\n",
            "midcore.toml": """
                [gates.cov-low]
                kind = "coverage"
                min_percent = 50
                run = ["coverage", "run", "--source", "calc", "-m", "pytest", "-q"]

                [gates.cov-high]
                kind = "coverage"
                min_percent = 100

                [gates.cov-report]
                kind = "coverage"
                report = "reports/coverage.json"
                min_percent = 90
                """,
            "reports/coverage.json": json.dumps({"totals": {"percent_covered": 91.5}}),
        }
    )
    result = run(repo)
    low = gate(result, "cov-low")
    assert low.verdict is Verdict.passed, low.reason
    assert 50 <= low.counts["percent_covered"] < 100
    high = gate(result, "cov-high")
    assert high.verdict is Verdict.failed
    assert "minimum 100%" in high.reason
    assert gate(result, "cov-report").verdict is Verdict.passed
    assert not (repo.root / ".coverage").exists()


def test_command_gate_and_optional_gates_warn(make_repo: MakeRepo, run: Run) -> None:
    repo = make_repo(
        {
            "midcore.toml": """
                [gates.ok]
                kind = "command"
                run = ["python", "-c", "print('fine')"]

                [gates.docs]
                kind = "command"
                run = ["python", "-c", "import sys; sys.exit('docs are broken')"]
                required = false
                """,
        }
    )
    result = run(repo)
    assert gate(result, "ok").verdict is Verdict.passed
    docs = gate(result, "docs")
    assert docs.verdict is Verdict.failed
    assert "docs are broken" in (docs.stderr_tail or "")
    assert docs.warns and not docs.blocks
    assert result.exit_code == 0 and result.passed


def test_missing_tool_is_unavailable(make_repo: MakeRepo, run: Run) -> None:
    repo = make_repo(
        {
            "midcore.toml": """
                [gates.lint]
                kind = "ruff"
                run = ["midcore-no-such-ruff", "check"]

                [gates.deploy]
                kind = "command"
                run = ["midcore-no-such-command"]
                """,
        }
    )
    result = run(repo)
    for name in ("lint", "deploy"):
        assert gate(result, name).verdict is Verdict.unavailable
        assert "not found" in gate(result, name).reason
    # Configured and required: a missing tool must not be a way around the gate.
    assert gate(result, "lint").blocks
    assert result.exit_code == 1


def test_missing_tool_of_a_detected_gate_only_warns(
    make_repo: MakeRepo, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo({"go.mod": "module example.com/x\n"})
    only_git = tmp_path / "only-git"
    only_git.mkdir()
    (only_git / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    monkeypatch.setenv("PATH", str(only_git))  # no go toolchain to be found
    result = run(repo)
    for name in ("go-test", "go-vet"):
        go = gate(result, name)
        assert go.verdict is Verdict.unavailable
        assert go.is_detected and go.warns and not go.blocks
    assert result.exit_code == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_hanging_tool_times_out_and_leaves_no_process(
    make_repo: MakeRepo, run: Run, tmp_path: Path
) -> None:
    pidfile = tmp_path / "child.pid"
    repo = make_repo({"midcore.toml": '[gates.tests]\nkind = "pytest"\ntimeout_seconds = 1\n'})
    repo.fake_tool(
        "pytest",
        f"""
        trap '' TERM
        sh -c 'echo $$ > {pidfile}; exec sleep 600' &
        sleep 600
        """,
    )
    tests = gate(run(repo), "tests")
    assert tests.verdict is Verdict.error
    assert tests.reason == "timed out after 1s"
    child = int(pidfile.read_text())
    for _ in range(100):
        if not _pid_alive(child):
            break
        time.sleep(0.05)
    assert not _pid_alive(child)


def test_tool_printing_garbage_is_an_error_with_stderr_tail(make_repo: MakeRepo, run: Run) -> None:
    repo = make_repo({"midcore.toml": '[gates.lint]\nkind = "ruff"\n', "a.py": "x = 1\n"})
    repo.fake_tool(
        "ruff",
        """
        while [ $# -gt 0 ]; do
          if [ "$1" = --output-file ]; then out="$2"; fi
          shift
        done
        echo '%%% this is not json' > "$out"
        echo 'ruff: internal panic at rule E999' >&2
        exit 1
        """,
    )
    lint = gate(run(repo), "lint")
    assert lint.verdict is Verdict.error
    assert "could not read ruff output" in lint.reason
    assert "internal panic" in (lint.stderr_tail or "")


def test_bandit_leaves_out_test_code_at_any_depth(make_repo: MakeRepo, run: Run) -> None:
    # Found on toolz: its package-internal tests (toolz/tests/) failed the security gate.
    risky = "def run(code):\n    exec(code)\n"
    repo = make_repo(
        {
            "midcore.toml": '[gates.security]\nkind = "bandit"\n',
            "pkg/tests/test_exec.py": risky,
            "pkg/sub/test_more.py": risky,
            "pkg/core.py": risky,
        }
    )
    security = gate(run(repo), "security")
    assert [(f.path, f.rule) for f in security.findings] == [("pkg/core.py", "B102")]


def test_unreadable_retry_report_keeps_the_first_failures(make_repo: MakeRepo, run: Run) -> None:
    junit = (
        '<testsuites><testsuite><testcase classname="t" name="a">'
        '<failure message="boom"/></testcase></testsuite></testsuites>'
    )
    repo = make_repo({"midcore.toml": '[gates.tests]\nkind = "pytest"\nretries = 1\n'})
    repo.fake_tool(
        "pytest",
        f"""
        for arg in "$@"; do
          case "$arg" in --junitxml=*) out="${{arg#--junitxml=}}";; --lf) retry=1;; esac
        done
        if [ -n "$retry" ]; then echo 'not xml' > "$out"; else echo '{junit}' > "$out"; fi
        exit 1
        """,
    )
    tests = gate(run(repo), "tests")
    assert tests.verdict is Verdict.failed
    assert [t.id for t in tests.tests] == ["t.a"]


def test_subject_is_the_state_before_gates_write_files(make_repo: MakeRepo, run: Run) -> None:
    from midcore.gates.workspace import Workspace

    repo = make_repo(
        {
            "midcore.toml": """
                [gates.writer]
                kind = "command"
                run = ["python", "-c", "open('generated.txt', 'w').write('x')"]
                """,
        }
    )
    before = Workspace(repo.root).tree_sha256()
    result = run(repo)
    assert (repo.root / "generated.txt").exists()
    assert result.workspace.tree_sha256 == before
    assert not result.workspace.is_dirty


def test_pytest_imports_a_flat_layout_package_without_install(
    make_repo: MakeRepo, run: Run
) -> None:
    # As in toolz: the package sits at the root, its tests inside it, nothing is installed.
    repo = make_repo(
        {
            "flatpkg/__init__.py": "def double(x):\n    return 2 * x\n",
            "flatpkg/tests/test_double.py": (
                "from flatpkg import double\n\n\ndef test_double():\n    assert double(2) == 4\n"
            ),
            "midcore.toml": '[gates.tests]\nkind = "pytest"\n',
        }
    )
    result = gate(run(repo), "tests")
    assert (result.verdict, result.counts["passed"]) == (Verdict.passed, 1)


def test_pytest_collection_errors_fail_the_gate(make_repo: MakeRepo, run: Run) -> None:
    repo = make_repo(
        {
            "tests/test_broken_import.py": "import no_such_module\n\n\ndef test_x():\n    pass\n",
            "midcore.toml": '[gates.tests]\nkind = "pytest"\n',
        }
    )
    result = gate(run(repo), "tests")
    assert result.verdict is Verdict.failed
    assert result.counts["error"] == 1
