"""in-toto Statement v1 and the predicates Midcore signs: test results (gates) and runs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from midcore.errors import ValidationFailed

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
TEST_RESULT_PREDICATE = "https://in-toto.io/attestation/test-result/v0.1"
# No public standard describes an agent run; this URI names Midcore's own predicate, version 1.
RUN_PREDICATE = "https://midcore.dev/attestation/run/v1"

KIND_BY_PREDICATE = {TEST_RESULT_PREDICATE: "gate", RUN_PREDICATE: "run"}

TestResult = Literal["PASSED", "WARNED", "FAILED"]


class StatementError(ValidationFailed):
    code = "invalid_statement"
    title = "Invalid statement"


def subject(
    name: str, *, git_commit: str | None = None, sha256: str | None = None
) -> dict[str, Any]:
    """A ResourceDescriptor for the workspace state; at least one digest is required."""
    digest = {
        algorithm: value
        for algorithm, value in (("gitCommit", git_commit), ("sha256", sha256))
        if value
    }
    if not digest:
        raise StatementError("a subject needs a gitCommit or sha256 digest")
    for algorithm, value in digest.items():
        if value != value.lower() or any(ch not in "0123456789abcdef" for ch in value):
            raise StatementError(f"{algorithm} digest must be lowercase hex")
    return {"name": name, "digest": digest}


def statement(
    subjects: Sequence[Mapping[str, Any]], predicate_type: str, predicate: Mapping[str, Any]
) -> dict[str, Any]:
    if not subjects:
        raise StatementError("a statement needs at least one subject")
    return {
        "_type": STATEMENT_TYPE,
        "subject": [dict(item) for item in subjects],
        "predicateType": predicate_type,
        "predicate": dict(predicate),
    }


def test_result_predicate(
    result: TestResult,
    *,
    configuration: Sequence[Mapping[str, Any]] = (),
    url: str | None = None,
    passed_tests: Sequence[str] = (),
    warned_tests: Sequence[str] = (),
    failed_tests: Sequence[str] = (),
) -> dict[str, Any]:
    """The test-result v0.1 predicate; `configuration` holds ResourceDescriptors."""
    if result not in ("PASSED", "WARNED", "FAILED"):
        raise StatementError(f"test result must be PASSED, WARNED or FAILED, not {result!r}")
    predicate: dict[str, Any] = {
        "result": result,
        "configuration": [dict(item) for item in configuration],
        "passedTests": list(passed_tests),
        "warnedTests": list(warned_tests),
        "failedTests": list(failed_tests),
    }
    if url:
        predicate["url"] = url
    return predicate


def _timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise StatementError("timestamps must carry a time zone")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def run_predicate(
    *,
    run_id: str,
    task: str,
    agent: Mapping[str, Any],
    actor: str,
    budget_seconds: int,
    started_at: datetime | None,
    finished_at: datetime | None,
    state: str,
    status_reason: str | None = None,
    patch_sha256: str | None = None,
    transcript_sha256: str | None = None,
) -> dict[str, Any]:
    return {
        "runId": run_id,
        "task": task,
        "agent": dict(agent),
        "actor": actor,
        "budgetSeconds": budget_seconds,
        "startedAt": _timestamp(started_at),
        "finishedAt": _timestamp(finished_at),
        "state": state,
        "statusReason": status_reason,
        "patch": {"sha256": patch_sha256} if patch_sha256 else None,
        "transcript": {"sha256": transcript_sha256} if transcript_sha256 else None,
    }


def encode(value: Mapping[str, Any]) -> bytes:
    """Statement payload bytes: compact, sorted keys, so equal statements sign identically."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def decode(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StatementError(f"statement is not JSON: {exc}") from None
    if not isinstance(value, dict) or value.get("_type") != STATEMENT_TYPE:
        raise StatementError("payload is not an in-toto Statement v1")
    if not isinstance(value.get("predicateType"), str) or not value.get("subject"):
        raise StatementError("statement has no predicateType or subject")
    return value


def kind_of(value: Mapping[str, Any]) -> str:
    """The ledger kind of a statement: gate, run, or other."""
    return KIND_BY_PREDICATE.get(str(value.get("predicateType")), "other")
