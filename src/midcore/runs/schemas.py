from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from midcore.runs.states import RunStatus

MAX_TASK_CHARS = 20_000


class PathWorkspace(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=4096, description="A folder under an allowed root.")


class GitWorkspace(BaseModel):
    model_config = ConfigDict(extra="forbid")

    git: str = Field(min_length=1, max_length=2048, description="Repository URL to clone.")
    ref: str | None = Field(default=None, max_length=255, description="Branch, tag or commit.")


WorkspaceSpec = PathWorkspace | GitWorkspace


class CommandAgent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["command"] = "command"
    command: list[Annotated[str, Field(max_length=8192)]] = Field(
        min_length=1,
        max_length=256,
        description="argv of the agent; `{task}` in an argument is replaced by the task.",
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra environment variables for the agent."
    )
    network: bool = Field(default=False, description="Let the agent reach the network.")

    @model_validator(mode="after")
    def _program_is_named(self) -> CommandAgent:
        if not self.command[0].strip():
            raise ValueError("command[0] must name a program")
        return self


AgentSpec = Annotated[CommandAgent, Field(discriminator="kind")]


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str = Field(min_length=1, max_length=MAX_TASK_CHARS)
    workspace: WorkspaceSpec
    agent: AgentSpec
    gates: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None,
        description="null: the workspace's configured or detected gates; []: none; a list: those.",
    )
    budget_seconds: StrictInt = Field(default=600, ge=1)
    stream: StrictBool = False
    metadata: dict[str, Any] = Field(default_factory=dict)


class RunLinks(BaseModel):
    self: str
    events: str
    stream: str
    cancel: str


class RunAccepted(BaseModel):
    run_id: str
    session_id: str
    status: RunStatus
    links: RunLinks


class Run(BaseModel):
    id: str
    session_id: str
    kind: str
    status: RunStatus
    status_reason: str | None
    task: str
    workspace: dict[str, Any]
    agent: dict[str, Any]
    gates: list[str] | None
    metadata: dict[str, Any]
    budget_seconds: int
    budget_used_seconds: float | None
    actor: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancel_requested_at: datetime | None
    isolation: dict[str, Any]
    agent_exit_code: int | None
    patch_sha256: str | None
    transcript_sha256: str | None
    gate_verdicts: list[dict[str, Any]]
    evidence_entry_ids: list[str]
    links: RunLinks


class RunEventRead(BaseModel):
    run_id: str
    seq: int
    ts: str
    type: str
    data: dict[str, Any]


class RunEventList(BaseModel):
    items: list[RunEventRead]
    next_cursor: str | None = Field(description="Pass as `after` to continue; null at the end.")
