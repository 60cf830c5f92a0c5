"""Engine details: glob semantics, bounded parallelism, the published JSON schema."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from midcore.gates.models import GateResult, GateSetResult
from midcore.gates.workspace import matches_any
from tests.gates.conftest import Repo

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("src/a/b.py", "src/**", True),
        ("src", "src/**", False),
        ("a.py", "**/*.py", True),
        ("x/y/a.py", "**/*.py", True),
        ("x/a.py", "*.py", False),
        ("a.py", "*.py", True),
        (".github/workflows/ci.yml", ".github/**", True),
        ("docs/index.md", "docs/*.md", True),
        ("docs/sub/index.md", "docs/*.md", False),
        ("a.pyc", "*.py", False),
        ("file[1].txt", "file[1].txt", True),
    ],
)
def test_globs(path: str, pattern: str, expected: bool) -> None:
    assert matches_any(path, [pattern]) is expected


def test_parallelism_is_bounded(make_repo: Callable[..., Repo], data_dir: Path) -> None:
    import asyncio

    from midcore.gates.runner import RunOptions, run_gates

    gates = "".join(
        f'[gates.g{i}]\nkind = "command"\nrun = ["python", "-c", "import time; time.sleep(0.2)"]\n'
        for i in range(6)
    )
    repo = make_repo({"midcore.toml": gates})
    running, peak = 0, 0

    def on_progress(event: str, name: str, result: GateResult | None) -> None:
        nonlocal running, peak
        running += 1 if event == "started" else -1
        peak = max(peak, running)

    for limit in (1, 3):
        running, peak = 0, 0
        options = RunOptions(data_dir=data_dir, use_cache=False, max_parallel=limit)
        options.on_progress = on_progress
        asyncio.run(run_gates(repo.root, options))
        assert 1 <= peak <= limit
    assert (os.cpu_count() or 1) >= 1


def test_published_json_schema_is_unchanged() -> None:
    # The JSON report is a contract: a change here must come with a schema_version decision.
    schema = json.dumps(GateSetResult.model_json_schema(by_alias=True), indent=2, sort_keys=True)
    path = GOLDEN / "result.schema.json"
    if os.environ.get("MIDCORE_UPDATE_GOLDEN"):
        path.write_text(schema + "\n")
    assert schema + "\n" == path.read_text()
