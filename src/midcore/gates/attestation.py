"""Gate verdicts as in-toto test-result v0.1 predicates; the evidence ledger signs and stores them.

Mapping: a gate that passed is PASSED, one that passed with flaky tests is WARNED, failed and error
are FAILED (also when not required: the predicate states what happened, the set decides what it
means), skipped and unavailable are WARNED since nothing was tested.
"""

from __future__ import annotations

from typing import Any

from midcore.gates.models import GateResult, GateSetResult, Verdict

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
TEST_RESULT_TYPE = "https://in-toto.io/attestation/test-result/v0.1"


def predicate_result(gate: GateResult) -> str:
    if gate.verdict is Verdict.passed:
        return "WARNED" if gate.is_warning else "PASSED"
    if gate.verdict in (Verdict.failed, Verdict.error):
        return "FAILED"
    return "WARNED"


def workspace_subject(result: GateSetResult) -> dict[str, Any]:
    """The workspace state the verdicts are about: HEAD plus a digest of the working tree.

    `sha256` is the digest of `<sha256 of bytes>  <path>` lines for every file git does not
    ignore, sorted by path, so uncommitted changes are part of the subject.
    """
    digest: dict[str, str] = {"sha256": result.workspace.tree_sha256}
    if result.workspace.git_commit:
        digest["gitCommit"] = result.workspace.git_commit
    return {"name": f"workspace:{result.workspace.path}", "digest": digest}


def gate_predicate(gate: GateResult, result: GateSetResult) -> dict[str, Any]:
    configuration: dict[str, Any] = {
        "name": f"{result.config_source}#gates.{gate.name}",
        "digest": {"sha256": gate.config_sha256 or ""},
        "annotations": {
            "kind": gate.kind,
            "verdict": gate.verdict.value,
            "reason": gate.reason,
            "required": gate.required,
            "cached": gate.is_cached,
        },
    }
    if gate.tool is not None:
        configuration["annotations"]["tool"] = gate.tool.name
        configuration["annotations"]["toolVersion"] = gate.tool.version or "unknown"
    passed: list[str] = []
    failed: list[str] = []
    warned: list[str] = []
    if gate.tests:
        for test in gate.tests:
            if test.outcome == "passed":
                passed.append(test.id)
            elif test.outcome in ("failed", "error"):
                failed.append(test.id)
            elif test.outcome == "flaky":
                warned.append(test.id)
    else:
        # A gate without test cases (lint, secrets, policy) is one check named after the gate.
        {"PASSED": passed, "FAILED": failed, "WARNED": warned}[predicate_result(gate)].append(
            gate.name
        )
    return {
        "result": predicate_result(gate),
        "configuration": [configuration],
        "passedTests": passed,
        "failedTests": failed,
        "warnedTests": warned,
    }


def summary_predicate(result: GateSetResult) -> dict[str, Any]:
    """The whole set: which gates passed, blocked or only warned, under which configuration."""
    passed = [g.name for g in result.gates if g.verdict is Verdict.passed and not g.warns]
    failed = [g.name for g in result.gates if g.blocks]
    warned = [g.name for g in result.gates if g.name not in passed and g.name not in failed]
    if failed:
        verdict = "FAILED"
    elif warned:
        verdict = "WARNED"
    else:
        verdict = "PASSED"
    return {
        "result": verdict,
        "configuration": [
            {"name": result.config_source, "digest": {"sha256": result.config_sha256}}
        ],
        "passedTests": passed,
        "failedTests": failed,
        "warnedTests": warned,
    }


def statements(result: GateSetResult) -> list[dict[str, Any]]:
    """Unsigned statements: one per gate, then the summary. The ledger wraps and signs them."""
    subject = [workspace_subject(result)]
    out = [
        {
            "_type": STATEMENT_TYPE,
            "subject": subject,
            "predicateType": TEST_RESULT_TYPE,
            "predicate": gate_predicate(gate, result),
        }
        for gate in result.gates
    ]
    out.append(
        {
            "_type": STATEMENT_TYPE,
            "subject": subject,
            "predicateType": TEST_RESULT_TYPE,
            "predicate": summary_predicate(result),
        }
    )
    return out
