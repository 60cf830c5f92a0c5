"""With no configuration, the gate set follows from what the workspace holds, with the reason."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from midcore.gates.config import (
    BanditGate,
    CommandGate,
    GateSet,
    GateSpec,
    MypyGate,
    PytestGate,
    RuffGate,
    SecretsGate,
)
from midcore.gates.workspace import Workspace

DETECTED = "detected"
_NPM_PLACEHOLDER_TEST = "no test specified"


def _pyproject(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def _ini_has_section(path: Path, section: str) -> bool:
    if not path.is_file():
        return False
    text = path.read_text(encoding="utf-8", errors="replace")
    return f"[{section}" in text


def _tests_reason(workspace: Workspace, pyproject: dict[str, Any]) -> str | None:
    root = workspace.root
    for name in ("tests", "test", "testing"):
        if (root / name).is_dir() and workspace.select([f"{name}/**/*.py"]):
            return f"Python tests in {name}/"
    if "pytest" in pyproject.get("tool", {}):
        return "[tool.pytest] in pyproject.toml"
    for name in ("pytest.ini", "conftest.py"):
        if (root / name).is_file():
            return f"{name} present"
    found = workspace.select(["**/test_*.py", "**/*_test.py"])
    if found:
        return f"test files such as {found[0]}"
    return None


def _mypy_reason(root: Path, pyproject: dict[str, Any]) -> str | None:
    if "mypy" in pyproject.get("tool", {}):
        return "[tool.mypy] in pyproject.toml"
    for name in ("mypy.ini", ".mypy.ini"):
        if (root / name).is_file():
            return f"{name} present"
    if _ini_has_section(root / "setup.cfg", "mypy"):
        return "[mypy] in setup.cfg"
    return None


def _ruff_reason(root: Path, pyproject: dict[str, Any], has_python: bool) -> str | None:
    if "ruff" in pyproject.get("tool", {}):
        return "[tool.ruff] in pyproject.toml"
    for name in ("ruff.toml", ".ruff.toml"):
        if (root / name).is_file():
            return f"{name} present"
    return "Python sources present" if has_python else None


def _spec(name: str, config: Any, reason: str) -> GateSpec:
    return GateSpec(name=name, config=config, source=DETECTED, reason=reason)


def detect(workspace: Workspace) -> GateSet:
    root = workspace.root
    pyproject = _pyproject(root)
    has_python = bool(workspace.select(["**/*.py"]))
    specs: list[GateSpec] = []
    reason = _tests_reason(workspace, pyproject)
    if reason:
        specs.append(_spec("tests", PytestGate(kind="pytest"), reason))
    reason = _ruff_reason(root, pyproject, has_python)
    if reason:
        specs.append(_spec("lint", RuffGate(kind="ruff"), reason))
    reason = _mypy_reason(root, pyproject)
    if reason:
        specs.append(_spec("types", MypyGate(kind="mypy"), reason))
    if has_python:
        # Without the project saying it wants bandit, its findings advise rather than block.
        has_bandit_config = (root / ".bandit").is_file() or "bandit" in pyproject.get("tool", {})
        specs.append(
            _spec(
                "security",
                BanditGate(kind="bandit", required=has_bandit_config),
                "bandit configuration present"
                if has_bandit_config
                else "Python sources present (advisory: no bandit configuration)",
            )
        )
    specs.append(_spec("secrets", SecretsGate(kind="secrets"), "always on"))
    specs += _package_json(root)
    if (root / "go.mod").is_file():
        specs.append(
            _spec("go-test", CommandGate(kind="command", run=["go", "test", "./..."]), "go.mod")
        )
        specs.append(
            _spec("go-vet", CommandGate(kind="command", run=["go", "vet", "./..."]), "go.mod")
        )
    if (root / "Cargo.toml").is_file():
        specs.append(
            _spec("cargo-test", CommandGate(kind="command", run=["cargo", "test"]), "Cargo.toml")
        )
    return GateSet(gates=specs, source=DETECTED)


def _package_json(root: Path) -> list[GateSpec]:
    path = root / "package.json"
    if not path.is_file():
        return []
    try:
        scripts = json.loads(path.read_text(encoding="utf-8")).get("scripts", {})
    except (ValueError, UnicodeDecodeError, AttributeError):
        return []
    if not isinstance(scripts, dict):
        return []
    specs = []
    test = scripts.get("test")
    if isinstance(test, str) and _NPM_PLACEHOLDER_TEST not in test:
        specs.append(
            _spec(
                "npm-test",
                CommandGate(kind="command", run=["npm", "test", "--silent"]),
                "package.json scripts.test",
            )
        )
    if isinstance(scripts.get("lint"), str):
        specs.append(
            _spec(
                "npm-lint",
                CommandGate(kind="command", run=["npm", "run", "lint", "--silent"]),
                "package.json scripts.lint",
            )
        )
    return specs
