"""Fixture workspaces: real git repositories with small real code, built in temp dirs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from midcore.gates.models import GateSetResult
from midcore.gates.runner import RunOptions, run_gates

BIN = Path(sys.executable).parent
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Midcore Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Midcore Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


@pytest.fixture(autouse=True)
def _tools_from_this_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The gates must find the dev tools installed beside this interpreter, first.
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', os.defpath)}")


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, files: dict[str, str]) -> Repo:
        for name, text in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"))
        return self

    def git(self, *args: str) -> str:
        env = {**os.environ, **GIT_ENV}
        out = subprocess.run(
            ["git", *args], cwd=self.root, env=env, check=True, capture_output=True, text=True
        )
        return out.stdout.strip()

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def fake_tool(self, name: str, script: str) -> Path:
        """An executable in the workspace's .venv/bin, which the gates search first."""
        path = self.root / ".venv" / "bin" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n" + textwrap.dedent(script).lstrip("\n"))
        path.chmod(0o755)
        return path


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Repo]:
    counter = {"n": 0}

    def make(files: dict[str, str] | None = None, *, commit: bool = True) -> Repo:
        counter["n"] += 1
        root = tmp_path / f"ws{counter['n']}"
        root.mkdir()
        repo = Repo(root)
        repo.git("init", "-q", "-b", "main")
        repo.write({".gitignore": ".venv/\n__pycache__/\n", **(files or {})})
        if commit:
            repo.commit("initial")
        return repo

    return make


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def run(data_dir: Path) -> Callable[..., GateSetResult]:
    import asyncio

    def _run(repo: Repo, **options: object) -> GateSetResult:
        opts = RunOptions(data_dir=data_dir, **options)  # type: ignore[arg-type]
        return asyncio.run(run_gates(repo.root, opts))

    return _run


def gate(result: GateSetResult, name: str):  # type: ignore[no-untyped-def]
    return next(g for g in result.gates if g.name == name)


PACKAGE = {
    "calc/__init__.py": """
        def add(a: int, b: int) -> int:
            return a + b


        def sub(a: int, b: int) -> int:
            return a - b
        """,
    "tests/__init__.py": "",
    "tests/test_calc.py": """
        from calc import add, sub


        def test_add() -> None:
            assert add(1, 2) == 3


        def test_sub() -> None:
            assert sub(3, 2) == 1
        """,
}


def midcore_cli(
    args: list[str], cwd: Path, data_dir: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """The real console script, as a user or CI runs it."""
    full_env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MIDCORE_DATA_DIR": str(data_dir),
        "COLUMNS": "200",
        **env,
    }
    return subprocess.run(
        [str(BIN / "midcore"), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
