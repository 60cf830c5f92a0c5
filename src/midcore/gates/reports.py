"""Reports for CI tools: JSON (our schema), JUnit XML (one testcase per gate), SARIF 2.1.0."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from midcore import __version__
from midcore.gates import diffpolicy, secrets
from midcore.gates.models import Finding, GateResult, GateSetResult, Verdict

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
# Kinds whose findings are code-scanning alerts; tests and coverage are not.
SARIF_KINDS = ("ruff", "mypy", "bandit", "secrets", "diff-policy")
_SARIF_LEVEL = {"error": "error", "warning": "warning", "note": "note"}
_TAG = {"bandit": "security", "secrets": "security", "diff-policy": "policy"}
_TOOL_URIS = {
    "ruff": "https://docs.astral.sh/ruff/",
    "mypy": "https://mypy-lang.org/",
    "bandit": "https://bandit.readthedocs.io/",
}


def to_json(result: GateSetResult) -> str:
    return json.dumps(result.to_json_dict(), indent=2, sort_keys=True) + "\n"


# JUnit ----------------------------------------------------------------------------------------


def _finding_line(f: Finding) -> str:
    where = f"{f.path}:{f.line}" if f.path and f.line else f.path or "(change)"
    return f"{where}: {f.rule} {f.message}"


def _gate_body(gate: GateResult) -> str:
    lines = [gate.reason]
    bad = [t for t in gate.tests if t.outcome in ("failed", "error")]
    if bad:
        lines.append("failing tests:")
        lines += [
            f"  {t.id}" + (f": {t.message.splitlines()[0]}" if t.message else "") for t in bad
        ]
    flaky = [t for t in gate.tests if t.outcome == "flaky"]
    if flaky:
        lines.append("flaky tests (passed on retry):")
        lines += [f"  {t.id}" for t in flaky]
    if gate.findings:
        lines.append("findings:")
        lines += [f"  {_finding_line(f)}" for f in gate.findings]
    if gate.stderr_tail and gate.verdict in (Verdict.error, Verdict.failed):
        lines += ["output tail:", gate.stderr_tail]
    return "\n".join(lines)


def to_junit_xml(result: GateSetResult) -> str:
    failures = sum(1 for g in result.gates if g.verdict is Verdict.failed)
    errors = sum(
        1
        for g in result.gates
        if g.verdict is Verdict.error or (g.verdict is Verdict.unavailable and g.blocks)
    )
    passed = sum(1 for g in result.gates if g.verdict is Verdict.passed)
    skipped = len(result.gates) - failures - errors - passed
    attrs = {
        "name": "midcore gates",
        "tests": str(len(result.gates)),
        "failures": str(failures),
        "errors": str(errors),
        "skipped": str(skipped),
        "time": f"{result.duration_seconds:.3f}",
    }
    suites = ET.Element("testsuites", attrs)
    suite = ET.SubElement(
        suites, "testsuite", {**attrs, "timestamp": result.started_at.isoformat()}
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("workspace.git_commit", result.workspace.git_commit or ""),
        ("workspace.tree_sha256", result.workspace.tree_sha256),
        ("config.source", result.config_source),
        ("config.sha256", result.config_sha256),
    ):
        ET.SubElement(props, "property", {"name": name, "value": value})
    for gate in result.gates:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": f"midcore.gates.{gate.kind}",
                "name": gate.name,
                "time": f"{gate.duration_seconds:.3f}",
            },
        )
        required = "" if gate.required else " (not required)"
        if gate.verdict is Verdict.failed:
            node = ET.SubElement(
                case, "failure", {"message": gate.reason + required, "type": "failed"}
            )
            node.text = _gate_body(gate)
        elif gate.verdict is Verdict.error or (gate.verdict is Verdict.unavailable and gate.blocks):
            kind = gate.verdict.value
            node = ET.SubElement(case, "error", {"message": gate.reason + required, "type": kind})
            node.text = _gate_body(gate)
        elif gate.verdict in (Verdict.skipped, Verdict.unavailable):
            ET.SubElement(case, "skipped", {"message": f"{gate.verdict.value}: {gate.reason}"})
        elif gate.is_warning:
            out = ET.SubElement(case, "system-out")
            out.text = _gate_body(gate)
        if gate.is_cached:
            ET.SubElement(case, "properties").append(
                ET.Element("property", {"name": "cached", "value": "true"})
            )
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


# SARIF ----------------------------------------------------------------------------------------


def _rule_text(kind: str, finding: Finding) -> tuple[str, str]:
    """(name, description) for a rule; never empty, as code scanning requires."""
    if kind == "secrets" and finding.rule in secrets.RULE_BY_ID:
        rule = secrets.RULE_BY_ID[finding.rule]
        return rule.name, f"Possible {rule.description}"
    if kind == "diff-policy" and finding.rule in diffpolicy.RULES:
        policy = diffpolicy.RULES[finding.rule]
        return policy.name, policy.description
    name = finding.rule_name or finding.rule
    return name, f"{kind} {finding.rule}" + (f" ({finding.rule_name})" if finding.rule_name else "")


def _fingerprint(kind: str, finding: Finding) -> str:
    if finding.fingerprint:
        return finding.fingerprint
    # Rule, file and message: stays put when unrelated lines move the finding up or down.
    text = f"{kind}\0{finding.rule}\0{finding.path}\0{finding.message}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _location(finding: Finding, fallback_path: str) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": max(1, finding.line or 1)}
    if finding.column and finding.column > 0:
        region["startColumn"] = finding.column
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": finding.path or fallback_path, "uriBaseId": "%SRCROOT%"},
            "region": region,
        }
    }


def _sarif_run(gate: GateResult, workspace_uri: str) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results = []
    for finding in gate.findings:
        if finding.rule not in index:
            name, description = _rule_text(gate.kind, finding)
            rule: dict[str, Any] = {
                "id": finding.rule,
                "name": name,
                "shortDescription": {"text": description},
                "fullDescription": {"text": description},
                "defaultConfiguration": {"level": _SARIF_LEVEL[finding.severity]},
                "properties": {"tags": [gate.kind, _TAG.get(gate.kind, "quality")]},
            }
            if finding.help_uri:
                rule["helpUri"] = finding.help_uri
            index[finding.rule] = len(rules)
            rules.append(rule)
        results.append(
            {
                "ruleId": finding.rule,
                "ruleIndex": index[finding.rule],
                "level": _SARIF_LEVEL[finding.severity],
                "message": {"text": finding.message or finding.rule},
                # A change-wide finding (too many lines) has no file; the gate config stands in.
                "locations": [_location(finding, "midcore.toml")],
                "partialFingerprints": {"midcoreFinding/v1": _fingerprint(gate.kind, finding)},
            }
        )
    driver: dict[str, Any] = {"name": gate.tool.name if gate.tool else gate.kind, "rules": rules}
    if gate.kind in _TOOL_URIS:
        driver["informationUri"] = _TOOL_URIS[gate.kind]
    version = gate.tool.version if gate.tool else None
    driver["version"] = version or __version__
    return {
        "tool": {"driver": driver},
        "automationDetails": {"id": f"midcore/gates/{gate.name}/"},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": workspace_uri}},
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {"gate": gate.name, "verdict": gate.verdict.value},
    }


def to_sarif(result: GateSetResult) -> dict[str, Any]:
    workspace_uri = Path(result.workspace.path).as_uri().rstrip("/") + "/"
    runs = [
        _sarif_run(gate, workspace_uri)
        for gate in result.gates
        if gate.kind in SARIF_KINDS and gate.verdict in (Verdict.passed, Verdict.failed)
    ]
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": runs}


def to_sarif_json(result: GateSetResult) -> str:
    return json.dumps(to_sarif(result), indent=2, sort_keys=True) + "\n"
