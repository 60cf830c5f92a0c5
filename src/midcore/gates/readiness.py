"""Is this workspace ready to merge as far as the gates know, and if not, why."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from midcore.gates.cache import LastResults, LastVerdict, ResultCache, cache_key
from midcore.gates.kinds import GateContext, input_patterns, resolve_tool
from midcore.gates.models import ToolInfo, Verdict
from midcore.gates.runner import load_gate_set, open_workspace
from midcore.gates.tools import VersionCache, installed_packages_sha256

Freshness = Literal["current", "stale", "never-run"]


class GateReadiness(BaseModel):
    name: str
    kind: str
    source: str  # config file, or "detected"
    detected_because: str | None = None
    required: bool
    tool: ToolInfo | None = None  # None for gates Midcore implements itself
    is_tool_found: bool
    last: LastVerdict | None = None
    freshness: Freshness
    is_cached: bool  # a cached verdict exists for the current inputs


class Readiness(BaseModel):
    workspace: str
    git_commit: str | None
    tree_sha256: str
    config_source: str
    ready: bool
    reasons: list[str] = Field(default_factory=list)
    gates: list[GateReadiness]


def readiness(root: Path, data_dir: Path) -> Readiness:
    workspace = open_workspace(root, data_dir)
    gate_set = load_gate_set(workspace)
    head = workspace.head()
    tree = workspace.tree_sha256()
    last = LastResults(data_dir, workspace.root).load()
    cache = ResultCache(data_dir)
    versions = VersionCache(data_dir / "gates" / "tool-versions.json")
    gates: list[GateReadiness] = []
    reasons: list[str] = []
    for spec in gate_set.gates:
        ctx = GateContext(
            spec=spec, workspace=workspace, scratch=data_dir, data_dir=data_dir, versions=versions
        )
        tool = resolve_tool(ctx)
        found = tool is None or tool.path is not None
        key = None
        if found and spec.kind != "diff-policy":
            inputs = workspace.digest_of(workspace.select(input_patterns(spec)))
            packages = installed_packages_sha256(tool.path) if tool and tool.path else None
            key = cache_key(spec, tool, inputs, packages)
        is_cached = key is not None and cache.has(key)
        previous = last.get(spec.name)
        freshness: Freshness
        if previous is None:
            freshness = "never-run"
        elif (previous.git_commit == head and previous.tree_sha256 == tree) or (
            key is not None and previous.cache_key == key
        ):
            freshness = "current"
        else:
            freshness = "stale"
        gates.append(
            GateReadiness(
                name=spec.name,
                kind=spec.kind,
                source=spec.source,
                detected_because=spec.reason,
                required=spec.config.required,
                tool=tool,
                is_tool_found=found,
                last=previous,
                freshness=freshness,
                is_cached=is_cached,
            )
        )
        if not spec.config.required:
            continue
        if not found and tool is not None:
            reasons.append(f"{spec.name}: {tool.name} is not installed")
        elif previous is None:
            reasons.append(f"{spec.name}: never run")
        elif freshness == "stale":
            ran_on = (previous.git_commit or "no commit")[:12]
            reasons.append(
                f"{spec.name}: last verdict is stale (ran on {ran_on}, tree changed since)"
            )
        elif previous.verdict is not Verdict.passed:
            reasons.append(f"{spec.name}: last verdict {previous.verdict.value}: {previous.reason}")
    return Readiness(
        workspace=str(workspace.root),
        git_commit=head,
        tree_sha256=tree,
        config_source=gate_set.source,
        ready=not reasons,
        reasons=reasons,
        gates=gates,
    )
