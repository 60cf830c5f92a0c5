"""The client's own models of what the API sends and takes.

Responses allow fields this version does not know, so an older client keeps working against a newer
server; requests are plain dicts built by the resource methods.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "timed_out", "error"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Page(_Model, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


# Requests: what `runs.create` takes besides plain strings, lists and dicts.


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PathWorkspace(_Request):
    """A folder on the server, under one of its MIDCORE_WORKSPACE_ROOTS."""

    path: str


class GitWorkspace(_Request):
    """A repository the server clones; `ref` is a branch, tag or commit."""

    git: str
    ref: str | None = None


class CommandAgent(_Request):
    """Any agent command line; `{task}` in an argument is replaced by the task."""

    kind: Literal["command"] = "command"
    command: list[str]
    env: dict[str, str] = Field(default_factory=dict)
    network: bool = False


Workspace = PathWorkspace | GitWorkspace
Agent = CommandAgent


# Runs


class RunLinks(_Model):
    self: str
    events: str
    stream: str
    cancel: str


class RunAccepted(_Model):
    run_id: str
    session_id: str
    status: str
    links: RunLinks


class GateVerdict(_Model):
    name: str
    verdict: str
    required: bool = True
    kind: str | None = None
    reason: str | None = None
    is_warning: bool = False
    is_cached: bool = False
    duration_seconds: float | None = None
    counts: dict[str, int] = Field(default_factory=dict)


class Run(_Model):
    id: str
    session_id: str
    kind: str
    status: str
    status_reason: str | None = None
    task: str
    workspace: dict[str, Any] = Field(default_factory=dict)
    agent: dict[str, Any] = Field(default_factory=dict)
    gates: list[str] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    budget_seconds: int
    budget_used_seconds: float | None = None
    actor: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cancel_requested_at: datetime | None = None
    isolation: dict[str, Any] = Field(default_factory=dict)
    agent_exit_code: int | None = None
    patch_sha256: str | None = None
    transcript_sha256: str | None = None
    gate_verdicts: list[GateVerdict] = Field(default_factory=list)
    evidence_entry_ids: list[str] = Field(default_factory=list)
    links: RunLinks | None = None

    @property
    def is_finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


# Events: one class per type whose data the client knows, `Event` for the rest.


class Event(_Model):
    run_id: str
    seq: int
    ts: datetime
    type: str
    data: dict[str, Any] = Field(default_factory=dict)


class AgentOutput(_Model):
    stream: Literal["stdout", "stderr"] | str
    text: str
    truncated: bool = False


class RunStateChange(_Model):
    from_: str = Field(alias="from")
    to: str
    reason: str | None = None


class GateStarted(_Model):
    gate: str


class RunFinished(_Model):
    status: str
    status_reason: str | None = None
    duration_seconds: float | None = None
    agent_exit_code: int | None = None
    patch_sha256: str | None = None
    gates: list[GateVerdict] = Field(default_factory=list)
    evidence_entry_ids: list[str] = Field(default_factory=list)


class _TypedEvent(_Model):
    run_id: str
    seq: int
    ts: datetime


class AgentOutputEvent(_TypedEvent):
    type: Literal["agent.output"] = "agent.output"
    data: AgentOutput


class RunStateEvent(_TypedEvent):
    type: Literal["run.state"] = "run.state"
    data: RunStateChange


class GateStartedEvent(_TypedEvent):
    type: Literal["gate.started"] = "gate.started"
    data: GateStarted


class GateFinishedEvent(_TypedEvent):
    type: Literal["gate.finished"] = "gate.finished"
    data: GateVerdict


class RunFinishedEvent(_TypedEvent):
    type: Literal["run.finished"] = "run.finished"
    data: RunFinished


AnyEvent = (
    AgentOutputEvent
    | RunStateEvent
    | GateStartedEvent
    | GateFinishedEvent
    | RunFinishedEvent
    | Event
)

_EVENT_CLASSES: dict[str, type[_TypedEvent]] = {
    "agent.output": AgentOutputEvent,
    "run.state": RunStateEvent,
    "gate.started": GateStartedEvent,
    "gate.finished": GateFinishedEvent,
    "run.finished": RunFinishedEvent,
}


def parse_event(payload: dict[str, Any]) -> AnyEvent:
    """The typed event for a payload; an unknown type (a newer server) stays a plain `Event`."""
    cls = _EVENT_CLASSES.get(str(payload.get("type")))
    if cls is None:
        return Event.model_validate(payload)
    return cls.model_validate(payload)  # type: ignore[return-value]


# Gates


class GateRunResult(_Model):
    """A gate set's result (the same document `midcore gates run --format json` prints)."""

    passed: bool
    exit_code: int | None = None
    summary: dict[str, int] = Field(default_factory=dict)
    gates: list[dict[str, Any]] = Field(default_factory=list)


class Readiness(_Model):
    ready: bool
    reasons: list[str] = Field(default_factory=list)
    gates: list[dict[str, Any]] = Field(default_factory=list)


# Evidence


class SubjectDigest(_Model):
    sha256: str | None = None
    git_commit: str | None = Field(default=None, alias="gitCommit")


class Evidence(_Model):
    id: str
    log_index: int
    kind: str
    predicate_type: str
    run_id: str | None = None
    gate: str | None = None
    workspace: str | None = None
    result: str | None = None
    subject_digest: SubjectDigest
    key_id: str
    created_at: datetime
    envelope: dict[str, Any]


class InclusionProof(_Model):
    log_index: int
    tree_size: int
    hashes: list[str]
    tlog_proof: str


class EvidenceWithProof(_Model):
    entry: Evidence
    inclusion: InclusionProof
    checkpoint: str


class ConsistencyProof(_Model):
    from_size: int
    to_size: int
    hashes: list[str]


class SignedCheckpoint(_Model):
    origin: str
    tree_size: int
    root_sha256: str
    checkpoint: str
    note_keys: list[str]
    consistency: ConsistencyProof | None = None


class EvidenceSnapshot(_Model):
    tree_size: int
    root_sha256: str
    checkpoint: str
    counts: dict[str, int] = Field(default_factory=dict)
    latest_verdicts: list[dict[str, Any]] = Field(default_factory=list)
    recent_runs: list[dict[str, Any]] = Field(default_factory=list)


# Voice and capacity


class TranscriptionSegment(_Model):
    start_seconds: float
    end_seconds: float
    text: str


class Transcription(_Model):
    text: str
    language: str | None = None
    duration_seconds: float
    backend: str
    segments: list[TranscriptionSegment] = Field(default_factory=list)
    intent: dict[str, Any] | None = None


class ReliabilityContext(_Model):
    """Budget and concurrency hints; the fields are the server's (not fixed by the contract yet)."""


# Access


class ApiKey(_Model):
    id: str
    name: str
    role: str
    created_by: str | None = None
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class ApiKeyCreated(ApiKey):
    key: str


class Member(_Model):
    user_id: str
    email: str
    name: str | None = None
    role: str
    created_at: datetime
    updated_at: datetime


class Tenant(_Model):
    id: str
    slug: str
    name: str


class Me(_Model):
    tenant: Tenant
    role: str
    actor: str
    user_id: str | None = None
    api_key_id: str | None = None
    permissions: list[str] = Field(default_factory=list)
