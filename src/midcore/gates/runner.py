"""Run a gate set: select, consult the cache, run in parallel, assemble the verdicts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from midcore.gates import diffpolicy, secrets
from midcore.gates.cache import LastResults, ResultCache, cache_key
from midcore.gates.config import (
    DiffPolicyGate,
    GateConfigError,
    GateSet,
    GateSpec,
    SecretsGate,
    load_config,
)
from midcore.gates.detect import DETECTED, detect
from midcore.gates.kinds import (
    TOOL_RUNNERS,
    GateContext,
    GateTimedOut,
    input_patterns,
    resolve_tool,
    tail,
)
from midcore.gates.models import GateResult, GateSetResult, ToolInfo, Verdict, WorkspaceState
from midcore.gates.tools import VersionCache, installed_packages_sha256
from midcore.gates.workspace import ChangedSinceError, Workspace, matches_any

EXIT_PASSED = 0
EXIT_FAILED = 1

# Called with ("started", name, None) and ("finished", name, result).
ProgressCallback = Callable[[str, str, GateResult | None], None]


@dataclass
class RunOptions:
    data_dir: Path
    only: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)
    changed_since: str | None = None
    use_cache: bool = True
    max_parallel: int | None = None
    on_progress: ProgressCallback | None = None


def open_workspace(root: Path, data_dir: Path) -> Workspace:
    root = root.resolve()
    excluded = []
    with contextlib.suppress(ValueError):  # a data dir outside the workspace needs no exclusion
        excluded.append(data_dir.resolve().relative_to(root).as_posix())
    return Workspace(root, excluded=excluded)


def load_gate_set(workspace: Workspace) -> GateSet:
    return load_config(workspace.root) or detect(workspace)


def _check_names(gate_set: GateSet, names: list[str], flag: str) -> None:
    known = [g.name for g in gate_set.gates]
    for name in names:
        if name not in known:
            raise GateConfigError(
                f"{flag}: unknown gate '{name}' (gates: {', '.join(known) or 'none'})"
            )


def _now() -> datetime:
    return datetime.now(UTC)


class _Runner:
    def __init__(self, workspace: Workspace, gate_set: GateSet, options: RunOptions) -> None:
        self.workspace = workspace
        self.gate_set = gate_set
        self.options = options
        self.cache = ResultCache(options.data_dir)
        self.versions = VersionCache(options.data_dir / "gates" / "tool-versions.json")
        parallel = options.max_parallel or os.cpu_count() or 1
        self.semaphore = asyncio.Semaphore(max(1, parallel))

    def _notify(self, event: str, name: str, result: GateResult | None = None) -> None:
        if self.options.on_progress is not None:
            self.options.on_progress(event, name, result)

    def _plain(self, spec: GateSpec, verdict: Verdict, reason: str) -> GateResult:
        now = _now()
        return GateResult(
            name=spec.name,
            kind=spec.kind,
            verdict=verdict,
            reason=reason,
            required=spec.config.required,
            is_detected=spec.source == DETECTED,
            config_sha256=spec.config_sha256(),
            started_at=now,
            finished_at=now,
        )

    async def run(self, spec: GateSpec) -> GateResult:
        async with self.semaphore:
            self._notify("started", spec.name)
            started_at, clock = _now(), time.monotonic()
            scratch = Path(tempfile.mkdtemp(prefix=f"midcore-gate-{spec.name}-"))
            try:
                result = await self._run(spec, scratch)
            except GateTimedOut as exc:
                result = self._plain(spec, Verdict.error, str(exc))
            except ChangedSinceError as exc:
                result = self._plain(spec, Verdict.error, str(exc))
            except OSError as exc:
                result = self._plain(spec, Verdict.error, f"could not start: {exc}")
            except Exception as exc:  # one gate's surprise must not take the whole set down
                result = self._plain(
                    spec, Verdict.error, f"internal error: {type(exc).__name__}: {exc}"
                )
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            result.started_at = started_at
            result.finished_at = _now()
            result.duration_seconds = round(time.monotonic() - clock, 3)
            self._notify("finished", spec.name, result)
            return result

    async def _run(self, spec: GateSpec, scratch: Path) -> GateResult:
        ctx = GateContext(
            spec=spec,
            workspace=self.workspace,
            scratch=scratch,
            data_dir=self.options.data_dir,
            versions=self.versions,
            changed_since=self.options.changed_since,
        )
        tool = await asyncio.to_thread(resolve_tool, ctx)
        if tool is not None and tool.path is None:
            return self._plain(
                spec, Verdict.unavailable, f"{tool.name} not found (workspace .venv, PATH)"
            )
        if tool is not None and tool.version is None:
            tool.version = "unknown"
        key = None
        if not isinstance(spec.config, DiffPolicyGate):
            # diff-policy depends on the base ref and history, not only on file bytes.
            inputs = await asyncio.to_thread(self._inputs_sha256, spec)
            packages = installed_packages_sha256(tool.path) if tool and tool.path else None
            key = cache_key(spec, tool, inputs, packages)
            if self.options.use_cache:
                cached = self.cache.get(key)
                if cached is not None:
                    return cached
        result = await self._execute(ctx, tool)
        result.tool = result.tool or tool
        result.cache_key = key
        if key is not None:
            self.cache.put(key, result)
        return result

    def _inputs_sha256(self, spec: GateSpec) -> str:
        return self.workspace.digest_of(self.workspace.select(input_patterns(spec)))

    async def _execute(self, ctx: GateContext, tool: ToolInfo | None) -> GateResult:
        config = ctx.spec.config
        if isinstance(config, SecretsGate):
            return await asyncio.to_thread(self._secrets, ctx, config)
        if isinstance(config, DiffPolicyGate):
            return await asyncio.to_thread(self._diff_policy, ctx, config)
        assert tool is not None
        try:
            return await TOOL_RUNNERS[ctx.spec.kind](ctx, tool)
        except GateTimedOut:
            raise
        except (ValueError, KeyError) as exc:  # a report we could not make sense of
            return ctx.result(Verdict.error, f"could not read tool output: {exc}")

    def _secrets(self, ctx: GateContext, config: SecretsGate) -> GateResult:
        paths = [
            p
            for p in self.workspace.select(input_patterns(ctx.spec))
            if not matches_any(p, config.exclude)
        ]

        def read() -> list[tuple[str, bytes]]:
            out = []
            for path in paths:
                full = self.workspace.root / path
                try:
                    if full.stat().st_size > secrets.MAX_FILE_BYTES:
                        continue
                    out.append((path, full.read_bytes()))
                except OSError:
                    continue
            return out

        findings, scanned = secrets.scan_files(read(), config.min_entropy)
        counts = {"files_scanned": scanned, "findings": len(findings)}
        tool = ToolInfo(name="midcore-secrets", version=_midcore_version())
        if findings:
            first = findings[0]
            return ctx.result(
                Verdict.failed,
                f"{len(findings)} possible secret{'s' * (len(findings) != 1)} "
                f"(first: {first.path}:{first.line} {first.rule_name})",
                counts=counts,
                findings=findings,
                tool=tool,
            )
        return ctx.result(
            Verdict.passed, f"no secrets in {scanned} files", counts=counts, tool=tool
        )

    def _diff_policy(self, ctx: GateContext, config: DiffPolicyGate) -> GateResult:
        ref = config.base or self.options.changed_since or "HEAD"
        findings, summary = diffpolicy.evaluate(self.workspace, config, ref)
        counts = {
            "changed_files": len(summary.files),
            "changed_lines": summary.lines_changed,
            "findings": len(findings),
        }
        tool = ToolInfo(name="midcore-diff-policy", version=_midcore_version())
        if findings:
            return ctx.result(
                Verdict.failed,
                f"{len(findings)} polic{'ies' if len(findings) != 1 else 'y'} broken against "
                f"{ref} (first: {findings[0].message})",
                counts=counts,
                findings=findings,
                tool=tool,
            )
        return ctx.result(
            Verdict.passed,
            f"{len(summary.files)} files, {summary.lines_changed} lines changed against {ref}",
            counts=counts,
            tool=tool,
        )


def _midcore_version() -> str:
    from midcore import __version__

    return __version__


def summarize(results: list[GateResult]) -> dict[str, int]:
    summary = {v.value: 0 for v in Verdict}
    for result in results:
        summary[result.verdict.value] += 1
    summary["warnings"] = sum(1 for r in results if r.warns)
    summary["cached"] = sum(1 for r in results if r.is_cached)
    return summary


async def run_gates(root: Path, options: RunOptions) -> GateSetResult:
    """Run the workspace's gates. Raises GateConfigError / ChangedSinceError for bad input."""
    started_at, clock = _now(), time.monotonic()
    workspace = open_workspace(root, options.data_dir)
    gate_set = load_gate_set(workspace)
    _check_names(gate_set, options.only, "--only")
    _check_names(gate_set, options.skip, "--skip")
    changed = workspace.changed_files(options.changed_since) if options.changed_since else None
    # The subject of the verdicts is the state the gates were given, before any tool wrote files.
    commit = workspace.head()
    tree = workspace.tree_sha256()
    is_dirty = workspace.is_dirty()
    runner = _Runner(workspace, gate_set, options)
    planned: list[GateResult | asyncio.Task[GateResult]] = []
    async with asyncio.TaskGroup() as group:
        for spec in gate_set.gates:
            if options.only and spec.name not in options.only:
                planned.append(runner._plain(spec, Verdict.skipped, "not selected (--only)"))
            elif spec.name in options.skip:
                planned.append(runner._plain(spec, Verdict.skipped, "not selected (--skip)"))
            elif (
                changed is not None
                and spec.kind != "diff-policy"
                and not any(matches_any(path, input_patterns(spec)) for path in changed)
            ):
                planned.append(
                    runner._plain(
                        spec,
                        Verdict.skipped,
                        f"not affected by the change since {options.changed_since}",
                    )
                )
            else:
                planned.append(group.create_task(runner.run(spec)))
    results = [p if isinstance(p, GateResult) else p.result() for p in planned]
    for result in results:
        if result.stderr_tail:
            result.stderr_tail = tail(result.stderr_tail)
    LastResults(options.data_dir, workspace.root).record(results, commit, tree)
    passed = not any(r.blocks for r in results)
    return GateSetResult(
        workspace=WorkspaceState(
            path=str(workspace.root),
            git_commit=commit,
            is_dirty=is_dirty,
            tree_sha256=tree,
        ),
        config_source=gate_set.source,
        config_sha256=gate_set.config_sha256(),
        changed_since=options.changed_since,
        started_at=started_at,
        finished_at=_now(),
        duration_seconds=round(time.monotonic() - clock, 3),
        passed=passed,
        exit_code=EXIT_PASSED if passed else EXIT_FAILED,
        summary=summarize(results),
        gates=results,
        warnings=workspace.warnings,
    )
