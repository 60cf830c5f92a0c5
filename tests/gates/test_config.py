"""Configuration: where it is read from, and errors that name file, gate and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from midcore.gates.config import GateConfigError, load_config
from midcore.gates.detect import detect
from midcore.gates.workspace import Workspace


def _write(root: Path, name: str, text: str) -> None:
    (root / name).write_text(text)


def test_midcore_toml(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "midcore.toml",
        """
[gates.tests]
kind = "pytest"
paths = ["src/**", "tests/**"]
timeout_seconds = 600
retries = 2

[gates.docs]
kind = "command"
run = ["mkdocs", "build", "--strict"]
required = false
""",
    )
    gate_set = load_config(tmp_path)
    assert gate_set is not None
    assert gate_set.source == "midcore.toml"
    tests, docs = gate_set.gates
    assert (tests.name, tests.kind, tests.config.paths) == (
        "tests",
        "pytest",
        ["src/**", "tests/**"],
    )
    assert tests.config.retries == 2  # type: ignore[union-attr]
    assert docs.config.required is False


def test_pyproject_tool_midcore(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.midcore.gates.lint]\nkind = "ruff"\n',
    )
    gate_set = load_config(tmp_path)
    assert gate_set is not None and gate_set.source == "pyproject.toml"
    assert [g.name for g in gate_set.gates] == ["lint"]


def test_no_configuration(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", '[project]\nname = "x"\n')
    assert load_config(tmp_path) is None


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        (
            "midcore.toml",
            '[gates.tests]\nkind = "pytest"\ntimeout_seconds = "soon"\n',
            "midcore.toml: gate 'tests': key 'timeout_seconds': Input should be a valid number",
        ),
        (
            "midcore.toml",
            '[gates.tests]\nkind = "pytest"\ntimeout_seconds = -1\n',
            "midcore.toml: gate 'tests': key 'timeout_seconds': Input should be greater than 0",
        ),
        (
            "midcore.toml",
            '[gates.lint]\nkind = "eslint"\n',
            "midcore.toml: gate 'lint': key 'kind': unknown kind 'eslint'",
        ),
        ("midcore.toml", "[gates.lint]\nrequired = true\n", "gate 'lint': key 'kind' is missing"),
        (
            "midcore.toml",
            '[gates.cov]\nkind = "coverage"\nmin_percent = 120\n',
            "midcore.toml: gate 'cov': key 'min_percent': "
            "Input should be less than or equal to 100",
        ),
        (
            "midcore.toml",
            '[gates.tests]\nkind = "pytest"\nmin_percent = 80\n',
            "midcore.toml: gate 'tests': key 'min_percent' is not a pytest gate setting",
        ),
        (
            "midcore.toml",
            '[gates.docs]\nkind = "command"\n',
            "midcore.toml: gate 'docs': key 'run' is required",
        ),
        (
            "midcore.toml",
            '[gates.tests]\nkind = "pytest"\nargs = ["-x", 3]\n',
            "midcore.toml: gate 'tests': key 'args.1': Input should be a valid string",
        ),
        ("midcore.toml", '[gates]\ntests = "pytest"\n', "key 'gates.tests' must be a table"),
        ("midcore.toml", "[gates]\n", "midcore.toml: key 'gates' has no gates"),
        ("midcore.toml", "[gate.tests]\nkind = 'pytest'\n", "midcore.toml: key 'gates' is missing"),
        ("midcore.toml", "[gates.tests\nkind = 1\n", "midcore.toml: not valid TOML"),
        (
            "pyproject.toml",
            '[tool.midcore.gates.x]\nkind = "ruff"\nretries = 1\n',
            "pyproject.toml: gate 'x': key 'retries' is not a ruff gate setting",
        ),
        ("pyproject.toml", "[tool.midcore]\nother = 1\n", "key 'tool.midcore.gates' is missing"),
    ],
)
def test_errors_name_file_gate_and_key(tmp_path: Path, file: str, text: str, message: str) -> None:
    _write(tmp_path, file, text)
    with pytest.raises(GateConfigError) as info:
        load_config(tmp_path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def _detect(tmp_path: Path, files: dict[str, str]) -> dict[str, str]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    gate_set = detect(Workspace(tmp_path))
    assert gate_set.source == "detected"
    return {g.name: f"{g.kind}: {g.reason}" for g in gate_set.gates}


def test_detects_python_project_with_reasons(tmp_path: Path) -> None:
    found = _detect(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "x"\n[tool.ruff]\nline-length = 100\n'
            "[tool.mypy]\nstrict = true\n",
            "src/x/__init__.py": "",
            "tests/test_x.py": "def test_x():\n    pass\n",
        },
    )
    assert found == {
        "tests": "pytest: Python tests in tests/",
        "lint": "ruff: [tool.ruff] in pyproject.toml",
        "types": "mypy: [tool.mypy] in pyproject.toml",
        "security": "bandit: Python sources present (advisory: no bandit configuration)",
        "secrets": "secrets: always on",
    }


def test_detects_node_go_and_rust(tmp_path: Path) -> None:
    found = _detect(
        tmp_path,
        {
            "package.json": '{"scripts": {"test": "node --test", "lint": "eslint ."}}',
            "go.mod": "module example.com/x\n",
            "Cargo.toml": '[package]\nname = "x"\n',
        },
    )
    assert found == {
        "secrets": "secrets: always on",
        "npm-test": "command: package.json scripts.test",
        "npm-lint": "command: package.json scripts.lint",
        "go-test": "command: go.mod",
        "go-vet": "command: go.mod",
        "cargo-test": "command: Cargo.toml",
    }


def test_npm_placeholder_test_script_is_not_a_gate(tmp_path: Path) -> None:
    found = _detect(
        tmp_path,
        {"package.json": '{"scripts": {"test": "echo \\"Error: no test specified\\" && exit 1"}}'},
    )
    assert "npm-test" not in found


def test_mypy_from_setup_cfg_and_bandit_config_makes_it_required(tmp_path: Path) -> None:
    _detect(tmp_path, {"setup.cfg": "[mypy]\nstrict = True\n", "a.py": "x = 1\n", ".bandit": ""})
    gate_set = detect(Workspace(tmp_path))
    by_name = {g.name: g for g in gate_set.gates}
    assert by_name["types"].reason == "[mypy] in setup.cfg"
    assert by_name["security"].config.required is True
