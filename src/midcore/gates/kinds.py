"""Gate kinds: each runs its tool as a real subprocess and reads its machine output."""

from __future__ import annotations

import hashlib
import json
import os
import re
import xml.etree.ElementTree as ET  # parses only files our own subprocess wrote
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from midcore.gates.config import (
    BanditGate,
    CommandGate,
    CoverageGate,
    GateSpec,
    MypyGate,
    PytestGate,
    RuffGate,
)
from midcore.gates.detect import DETECTED
from midcore.gates.models import Finding, GateResult, TestCase, ToolInfo, Verdict
from midcore.gates.tools import VersionCache, find_tool, search_path
from midcore.gates.workspace import Workspace
from midcore.sandbox import ProcessResult, build_env, run_process

STDERR_TAIL_CHARS = 2000


@dataclass
class GateContext:
    spec: GateSpec
    workspace: Workspace
    scratch: Path  # private directory for this gate's report files
    data_dir: Path
    versions: VersionCache
    changed_since: str | None = None

    @property
    def root(self) -> Path:
        return self.workspace.root

    def mypy_cache_dir(self) -> Path:
        """mypy's incremental cache, kept between runs (mypy checks its own freshness); one per
        workspace and gate so that two mypy gates never write the same cache at once."""
        ident = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        return self.data_dir / "gates" / "mypy-cache" / f"{ident}-{self.spec.name}"

    def env(self) -> dict[str, str]:
        extra = {"PATH": search_path(self.root), "PYTHONDONTWRITEBYTECODE": "1"}
        extra.update(self.spec.config.env)
        return build_env(extra)

    def result(self, verdict: Verdict, reason: str, **fields: Any) -> GateResult:
        return GateResult(
            name=self.spec.name,
            kind=self.spec.kind,
            verdict=verdict,
            reason=reason,
            required=self.spec.config.required,
            is_detected=self.spec.source == DETECTED,
            config_sha256=self.spec.config_sha256(),
            **fields,
        )


class GateTimedOut(Exception):
    pass


def tail(text: str, limit: int = STDERR_TAIL_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]


def relpath(path: str, root: Path) -> str:
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(root.resolve())
        except ValueError:
            return p.as_posix()
    return p.as_posix().removeprefix("./")


async def execute(ctx: GateContext, argv: list[str], **env: str) -> ProcessResult:
    run_env = ctx.env()
    run_env.update(env)
    result = await run_process(
        argv, cwd=ctx.root, env=run_env, timeout_seconds=ctx.spec.config.timeout_seconds
    )
    if result.is_timed_out:
        raise GateTimedOut(f"timed out after {ctx.spec.config.timeout_seconds:g}s")
    return result


def tool_of(spec: GateSpec) -> str | None:
    """The executable a gate runs, or None for gates Midcore implements itself."""
    if spec.config.run:
        return spec.config.run[0]
    return KIND_TOOLS.get(spec.kind)


def resolve_tool(ctx: GateContext) -> ToolInfo | None:
    name = tool_of(ctx.spec)
    if name is None:
        return None
    path = find_tool(name, ctx.root)
    if path is None:
        return ToolInfo(name=Path(name).name)
    # The version question shares the gate's time budget: a hanging tool must not stall it.
    timeout = min(10.0, ctx.spec.config.timeout_seconds)
    version = ctx.versions.version(path, ctx.root, timeout)
    return ToolInfo(name=Path(name).name, path=path, version=version)


def _base(ctx: GateContext, tool: ToolInfo, default_args: list[str]) -> list[str]:
    if ctx.spec.config.run:
        return [tool.path or ctx.spec.config.run[0], *ctx.spec.config.run[1:]]
    return [tool.path or tool.name, *default_args]


def _garbage(ctx: GateContext, what: str, proc: ProcessResult, detail: str) -> GateResult:
    return ctx.result(
        Verdict.error,
        f"could not read {what} output ({detail}); exit code {proc.returncode}",
        stderr_tail=tail(proc.stderr or proc.stdout),
    )


# pytest -------------------------------------------------------------------------------------


def parse_junit(path: Path) -> list[TestCase]:
    # The file comes from the workspace's test run, so treat it as untrusted: ElementTree never
    # fetches external entities and the bundled expat (>= 2.4) caps entity amplification.
    root = ET.parse(path).getroot()  # noqa: S314  # nosec B314
    cases = []
    for case in root.iter("testcase"):
        classname = case.get("classname") or ""
        name = case.get("name") or "?"
        test_id = f"{classname}.{name}" if classname else name
        outcome = "passed"
        message = None
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed" if child.tag == "failure" else "error"
                message = (child.get("message") or child.text or "").strip()[:500] or None
                break
            if child.tag == "skipped":
                outcome = "skipped"
                message = (child.get("message") or "").strip()[:500] or None
        cases.append(TestCase(id=test_id, outcome=outcome, message=message))
    return cases


def _test_counts(cases: list[TestCase]) -> dict[str, int]:
    counts = {"tests": len(cases), "passed": 0, "failed": 0, "error": 0, "skipped": 0, "flaky": 0}
    for case in cases:
        counts[case.outcome] += 1
    return counts


async def run_pytest(ctx: GateContext, tool: ToolInfo) -> GateResult:
    config = ctx.spec.config
    assert isinstance(config, PytestGate)
    cache_dir = ctx.scratch / "pytest-cache"

    def argv(junit: Path, *extra: str) -> list[str]:
        return [
            *_base(ctx, tool, []),
            "-q",
            f"--junitxml={junit}",
            "-o",
            "junit_family=xunit2",
            "-o",
            f"cache_dir={cache_dir}",
            *extra,
            *config.args,
        ]

    junit = ctx.scratch / "junit.xml"
    command = argv(junit)
    # As `python -m pytest` does: the workspace root is importable, so a flat-layout project's
    # tests find its package without an install.
    root_on_path = os.pathsep.join(p for p in (str(ctx.root), ctx.env().get("PYTHONPATH")) if p)
    proc = await execute(ctx, command, PYTHONPATH=root_on_path)
    if proc.returncode == 5:
        return ctx.result(Verdict.skipped, "not applicable: no tests collected", command=command)
    # 2 is pytest's "interrupted", which collection errors cause: the report lists them.
    if proc.returncode not in (0, 1, 2) or not junit.is_file():
        return _garbage(ctx, "pytest", proc, "no JUnit report" if not junit.is_file() else "crash")
    try:
        cases = parse_junit(junit)
    except ET.ParseError as exc:
        return _garbage(ctx, "pytest JUnit", proc, str(exc))
    by_id = {c.id: c for c in cases}
    for attempt in range(config.retries):
        if not any(c.outcome in ("failed", "error") for c in by_id.values()):
            break
        retry_junit = ctx.scratch / f"junit-retry-{attempt + 1}.xml"
        # --lf reads the failures from our private cache dir: only failing tests run again.
        await execute(ctx, argv(retry_junit, "--lf", "--lfnf=none"), PYTHONPATH=root_on_path)
        try:
            retried = parse_junit(retry_junit)
        except (OSError, ET.ParseError):
            break  # an unreadable retry proves nothing: the first failures stand
        for case in retried:
            before = by_id.get(case.id)
            if before and before.outcome in ("failed", "error") and case.outcome == "passed":
                by_id[case.id] = TestCase(id=case.id, outcome="flaky", message=before.message)
    cases = list(by_id.values())
    counts = _test_counts(cases)
    bad = counts["failed"] + counts["error"]
    fields: dict[str, Any] = {"command": command, "counts": counts, "tests": cases}
    if bad:
        first = next(c.id for c in cases if c.outcome in ("failed", "error"))
        more = f" (first: {first})"
        return ctx.result(
            Verdict.failed,
            f"{bad} of {counts['tests']} tests failed{more}",
            stderr_tail=tail(proc.stdout) if bad else None,
            **fields,
        )
    if proc.returncode in (1, 2) and not counts["flaky"]:
        return _garbage(
            ctx, "pytest", proc, f"exit code {proc.returncode} with no failing test in the report"
        )
    if counts["flaky"]:
        return ctx.result(
            Verdict.passed,
            f"{counts['passed']} passed, {counts['flaky']} flaky (passed on retry)",
            is_warning=True,
            **fields,
        )
    return ctx.result(
        Verdict.passed, f"{counts['passed']} passed, {counts['skipped']} skipped", **fields
    )


# ruff ---------------------------------------------------------------------------------------


async def run_ruff(ctx: GateContext, tool: ToolInfo) -> GateResult:
    assert isinstance(ctx.spec.config, RuffGate)
    report = ctx.scratch / "ruff.json"
    command = [
        *_base(ctx, tool, ["check"]),
        "--output-format",
        "json",
        "--output-file",
        str(report),
        "--no-cache",
        *ctx.spec.config.args,
    ]
    proc = await execute(ctx, command)
    if proc.returncode not in (0, 1):
        return _garbage(ctx, "ruff", proc, "tool error")
    try:
        items = json.loads(report.read_text(encoding="utf-8"))
        findings = [
            Finding(
                path=relpath(item["filename"], ctx.root),
                line=(item.get("location") or {}).get("row"),
                column=(item.get("location") or {}).get("column"),
                rule=item.get("code") or "syntax-error",
                rule_name=_ruff_rule_name(item),
                message=item["message"],
                severity="error",
                help_uri=item.get("url"),
            )
            for item in items
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _garbage(ctx, "ruff", proc, f"{type(exc).__name__}: {exc}")
    return _findings_verdict(ctx, findings, command, "ruff")


def _ruff_rule_name(item: dict[str, Any]) -> str | None:
    # ruff's JSON has no rule name, but its documentation URL ends with it.
    url = item.get("url")
    return url.rstrip("/").rsplit("/", 1)[-1] if isinstance(url, str) and url else None


def _findings_verdict(
    ctx: GateContext,
    findings: list[Finding],
    command: list[str],
    what: str,
    *,
    any_fails: bool = False,
) -> GateResult:
    failing = [f for f in findings if any_fails or f.severity == "error"]
    errors = len(failing)
    counts = {"findings": len(findings), "errors": errors}
    if errors:
        where = failing[0]
        first = f"{where.path}:{where.line} {where.rule}"
        return ctx.result(
            Verdict.failed,
            f"{errors} {what} finding{'s' * (errors != 1)} (first: {first})",
            command=command,
            counts=counts,
            findings=findings,
        )
    return ctx.result(
        Verdict.passed, f"no {what} findings", command=command, counts=counts, findings=findings
    )


# mypy ---------------------------------------------------------------------------------------

_MYPY_LINE = re.compile(
    r"^(?P<path>[^:\n]+):(?P<line>\d+):(?:(?P<col>\d+):)? (?P<sev>error|warning|note): "
    r"(?P<msg>.*?)(?:  \[(?P<code>[a-z0-9-]+)\])?$"
)


def _mypy_has_files_setting(root: Path) -> bool:
    for name in ("mypy.ini", ".mypy.ini", "setup.cfg", "pyproject.toml"):
        path = root / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            if ("mypy" in text) and re.search(r"^\s*files\s*=", text, re.MULTILINE):
                return True
    return False


async def run_mypy(ctx: GateContext, tool: ToolInfo) -> GateResult:
    assert isinstance(ctx.spec.config, MypyGate)
    targets: list[str] = []
    if not ctx.spec.config.args and not _mypy_has_files_setting(ctx.root):
        targets = ["src"] if (ctx.root / "src").is_dir() else ["."]
    command = [
        *_base(ctx, tool, []),
        "--show-column-numbers",
        "--show-error-codes",
        "--no-error-summary",
        "--no-pretty",
        "--no-color-output",
        "--cache-dir",
        str(ctx.mypy_cache_dir()),
        *ctx.spec.config.args,
        *targets,
    ]
    proc = await execute(ctx, command)
    findings = []
    for line in proc.stdout.splitlines():
        match = _MYPY_LINE.match(line)
        if not match or match["sev"] == "note":
            continue
        findings.append(
            Finding(
                path=relpath(match["path"], ctx.root),
                line=int(match["line"]),
                column=int(match["col"]) if match["col"] else None,
                rule=match["code"] or "misc",
                message=match["msg"],
                severity="error" if match["sev"] == "error" else "warning",
                help_uri="https://mypy.readthedocs.io/en/stable/error_code_list.html",
            )
        )
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not findings):
        return _garbage(ctx, "mypy", proc, "tool error")
    return _findings_verdict(ctx, findings, command, "mypy")


# bandit -------------------------------------------------------------------------------------

# bandit excludes a file when one of these is a substring of its "./"-relative path or matches
# it as a glob. Test code is left out at any depth: asserts, pickle and exec are normal there.
_BANDIT_EXCLUDES = [
    "/.venv/",
    "/venv/",
    "/.tox/",
    "/node_modules/",
    "/build/",
    "/dist/",
    "/tests/",
    "/test/",
    "*/test_*.py",
    "*/*_test.py",
    "*/conftest.py",
]
_BANDIT_LEVEL = {"LOW": "note", "MEDIUM": "warning", "HIGH": "error"}


async def run_bandit(ctx: GateContext, tool: ToolInfo) -> GateResult:
    config = ctx.spec.config
    assert isinstance(config, BanditGate)
    report = ctx.scratch / "bandit.json"
    excludes = ",".join([*_BANDIT_EXCLUDES, *(f"./{e}" for e in config.exclude)])
    command = [
        *_base(ctx, tool, []),
        "-r",
        ".",
        "-x",
        excludes,
        "-f",
        "json",
        "-o",
        str(report),
        "-q",
        "--severity-level",
        config.min_severity,
        *config.args,
    ]
    proc = await execute(ctx, command)
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
        findings = [
            Finding(
                path=relpath(item["filename"], ctx.root),
                line=item.get("line_number"),
                column=(item.get("col_offset") or 0) + 1,
                rule=item["test_id"],
                rule_name=item.get("test_name"),
                message=f"{item['issue_text']} (confidence {item.get('issue_confidence', '?')})",
                # Every reported issue is at or above min_severity, so each one fails the gate;
                # the severity (and SARIF level) still follows bandit's own.
                severity=_BANDIT_LEVEL.get(item.get("issue_severity", ""), "warning"),
                help_uri=item.get("more_info"),
            )
            for item in data.get("results", [])
        ]
        levels = [item.get("issue_severity", "") for item in data.get("results", [])]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _garbage(ctx, "bandit", proc, f"{type(exc).__name__}: {exc}")
    if proc.returncode not in (0, 1):
        return _garbage(ctx, "bandit", proc, "tool error")
    result = _findings_verdict(ctx, findings, command, "bandit", any_fails=True)
    for value in ("LOW", "MEDIUM", "HIGH"):
        result.counts[f"severity_{value.lower()}"] = levels.count(value)
    return result


# coverage -----------------------------------------------------------------------------------


async def run_coverage(ctx: GateContext, tool: ToolInfo | None) -> GateResult:
    config = ctx.spec.config
    assert isinstance(config, CoverageGate)
    command: list[str] = []
    if config.report and not config.run:
        report = ctx.root / config.report
        if not report.is_file():
            return ctx.result(Verdict.error, f"coverage report {config.report} does not exist")
        proc = None
    else:
        assert tool is not None
        data_file = str(ctx.scratch / ".coverage")
        command = [
            *_base(ctx, tool, ["run", "-m", "pytest", "-q", "-p", "no:cacheprovider"]),
            *config.args,
        ]
        proc = await execute(ctx, command, COVERAGE_FILE=data_file)
        if proc.returncode not in (0, 1):
            return _garbage(ctx, "coverage run", proc, "the measured command did not finish")
        report = ctx.scratch / "coverage.json"
        coverage_exe = tool.path if not config.run else find_tool("coverage", ctx.root)
        if coverage_exe is None:
            return ctx.result(Verdict.unavailable, "coverage not found to write the JSON report")
        json_proc = await execute(
            ctx, [coverage_exe, "json", "-q", "-o", str(report)], COVERAGE_FILE=data_file
        )
        if json_proc.returncode != 0:
            return _garbage(ctx, "coverage json", json_proc, "no report")
    try:
        totals = json.loads(report.read_text(encoding="utf-8"))["totals"]
        percent = float(totals["percent_covered"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        fake = proc or ProcessResult(
            argv=[], returncode=None, stdout="", stderr="", duration_seconds=0
        )
        return _garbage(ctx, "coverage", fake, f"{type(exc).__name__}: {exc}")
    counts = {
        "percent_covered": int(percent),
        "covered_lines": int(totals.get("covered_lines", 0)),
        "num_statements": int(totals.get("num_statements", 0)),
    }
    reason = f"{percent:.1f}% covered (minimum {config.min_percent:g}%)"
    verdict = Verdict.passed if percent >= config.min_percent else Verdict.failed
    return ctx.result(verdict, reason, command=command, counts=counts)


# command ------------------------------------------------------------------------------------


async def run_command(ctx: GateContext, tool: ToolInfo) -> GateResult:
    assert isinstance(ctx.spec.config, CommandGate)
    command = _base(ctx, tool, [])
    proc = await execute(ctx, [*command, *ctx.spec.config.args])
    if proc.returncode == 0:
        return ctx.result(Verdict.passed, "exit code 0", command=command)
    return ctx.result(
        Verdict.failed,
        f"exit code {proc.returncode}",
        command=command,
        stderr_tail=tail(proc.stderr or proc.stdout),
    )


# registry -----------------------------------------------------------------------------------

KIND_TOOLS: dict[str, str] = {
    "pytest": "pytest",
    "ruff": "ruff",
    "mypy": "mypy",
    "bandit": "bandit",
    "coverage": "coverage",
}

_PY_INPUTS = ("**/*.py", "**/*.pyi", "pyproject.toml", "setup.cfg")
DEFAULT_INPUTS: dict[str, tuple[str, ...]] = {
    "pytest": ("**",),
    "ruff": (*_PY_INPUTS, "ruff.toml", ".ruff.toml"),
    "mypy": (*_PY_INPUTS, "mypy.ini", ".mypy.ini"),
    "bandit": (*_PY_INPUTS, ".bandit"),
    "secrets": ("**",),
    "coverage": ("**",),
    "diff-policy": ("**",),
    "command": ("**",),
}

Runner = Callable[[GateContext, ToolInfo], Awaitable[GateResult]]
TOOL_RUNNERS: dict[str, Runner] = {
    "pytest": run_pytest,
    "ruff": run_ruff,
    "mypy": run_mypy,
    "bandit": run_bandit,
    "coverage": run_coverage,
    "command": run_command,
}


def input_patterns(spec: GateSpec) -> tuple[str, ...]:
    if spec.config.paths:
        return tuple(spec.config.paths)
    if isinstance(spec.config, CoverageGate) and spec.config.report and not spec.config.run:
        return (spec.config.report,)
    return DEFAULT_INPUTS[spec.kind]
