"""The result model: what a gate found and decided. The JSON report is these models, versioned."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

# Bump when a field changes meaning or disappears; adding a field keeps the version.
SCHEMA_VERSION = 1
SCHEMA_ID = "midcore.gates.result"


class Verdict(StrEnum):
    passed = "passed"
    failed = "failed"
    error = "error"
    skipped = "skipped"
    unavailable = "unavailable"


Severity = Literal["error", "warning", "note"]


class Finding(BaseModel):
    """One problem at a place: a lint message, a security issue, a secret, a policy breach."""

    path: str | None = None  # repo-relative, forward slashes
    line: int | None = None
    column: int | None = None
    rule: str
    rule_name: str | None = None
    message: str
    severity: Severity = "error"
    help_uri: str | None = None
    fingerprint: str | None = None  # stable across line moves; never contains a secret


TestOutcome = Literal["passed", "failed", "error", "skipped", "flaky"]


class TestCase(BaseModel):
    __test__ = False  # not a pytest class

    id: str
    outcome: TestOutcome
    message: str | None = None


class ToolInfo(BaseModel):
    name: str
    path: str | None = None
    version: str | None = None


class GateResult(BaseModel):
    name: str
    kind: str
    verdict: Verdict
    reason: str
    required: bool = True
    is_detected: bool = False  # chosen by detection, not by the project's configuration
    is_warning: bool = False  # passed, but with something to look at (flaky tests)
    is_cached: bool = False
    duration_seconds: float = 0.0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    tool: ToolInfo | None = None
    command: list[str] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)
    findings: list[Finding] = Field(default_factory=list)
    tests: list[TestCase] = Field(default_factory=list)
    stderr_tail: str | None = None
    config_sha256: str | None = None
    cache_key: str | None = None

    @property
    def blocks(self) -> bool:
        """Whether this verdict fails the set.

        A configured required gate whose tool is missing blocks: otherwise uninstalling a tool
        would be a way around its gate. A detected one only warns, since detection guesses.
        """
        if not self.required:
            return False
        if self.verdict is Verdict.unavailable:
            return not self.is_detected
        return self.verdict in (Verdict.failed, Verdict.error)

    @property
    def warns(self) -> bool:
        if self.is_warning:
            return True
        bad = (Verdict.failed, Verdict.error, Verdict.unavailable)
        return not self.blocks and self.verdict in bad


class WorkspaceState(BaseModel):
    path: str
    git_commit: str | None = None
    is_dirty: bool = False
    tree_sha256: str


class GateSetResult(BaseModel):
    schema_: str = Field(default=SCHEMA_ID, alias="schema")
    schema_version: int = SCHEMA_VERSION
    workspace: WorkspaceState
    config_source: str  # file the gates came from, or "detected"
    config_sha256: str
    changed_since: str | None = None
    started_at: datetime
    finished_at: datetime
    duration_seconds: float
    passed: bool
    exit_code: int
    summary: dict[str, int]
    gates: list[GateResult]
    warnings: list[str] = Field(default_factory=list)  # about the run, not one gate

    model_config = {"populate_by_name": True}

    def to_json_dict(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)
