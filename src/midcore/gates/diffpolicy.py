"""The diff-policy gate: the size of the change, what it touches, whether it weakens the gates."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from midcore.gates.config import CONFIG_FILE, PYPROJECT_FILE, DiffPolicyGate, config_from_text
from midcore.gates.models import Finding
from midcore.gates.workspace import ChangedSinceError, Workspace, git, matches_any


@dataclass(frozen=True)
class PolicyRule:
    id: str
    name: str
    description: str


RULES = {
    r.id: r
    for r in (
        PolicyRule("MCD001", "too-many-changed-lines", "The change is larger than allowed"),
        PolicyRule(
            "MCD002", "too-many-changed-files", "The change touches more files than allowed"
        ),
        PolicyRule("MCD003", "protected-path", "The change touches a protected path"),
        PolicyRule("MCD010", "disabled-test", "The change disables or skips a test"),
        PolicyRule("MCD020", "ignored-failure", "The change makes a gate command ignore failure"),
        PolicyRule("MCD030", "weakened-gate", "The change weakens the gate configuration"),
    )
}

_SKIP_MARKERS = re.compile(
    r"@pytest\.mark\.(?:skip|skipif|xfail)\b|\bpytest\.skip\(|@unittest\.skip|\bskipTest\(|"
    r"\b(?:it|describe|test)\.skip\(|\bx(?:it|describe)\(|#\[ignore\]|\bt\.Skip\(|"
    r"^\s*#\s*(?:async\s+)?def\s+test_"
)
_IGNORED_FAILURE = re.compile(
    r"\|\|\s*(?:true|:|exit\s+0)\b|--exit-zero\b|continue-on-error:\s*true|"
    r"\bset\s+\+e\b|ignore_errors\s*=\s*true"
)
_GATE_COMMAND_FILES = (
    CONFIG_FILE,
    PYPROJECT_FILE,
    "package.json",
    "Makefile",
    "tox.ini",
    "noxfile.py",
    "setup.cfg",
    ".pre-commit-config.yaml",
    ".gitlab-ci.yml",
    ".github/workflows/**",
    "**/*.sh",
)


@dataclass
class DiffSummary:
    base: str
    files: list[str] = field(default_factory=list)
    added: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    lines_changed: int = 0


def collect(workspace: Workspace, ref: str) -> DiffSummary:
    commit = workspace.resolve_ref(ref)
    summary = DiffSummary(base=commit)
    numstat = git(workspace.root, "diff", "--numstat", "--no-renames", commit, check=False)
    if numstat.returncode != 0:
        raise ChangedSinceError(f"git diff against '{ref}' failed: {numstat.stderr.strip()}")
    for line in numstat.stdout.splitlines():
        added, deleted, path = line.split("\t", 2)
        summary.files.append(path)
        summary.lines_changed += int(added) if added.isdigit() else 0
        summary.lines_changed += int(deleted) if deleted.isdigit() else 0
    patch = git(workspace.root, "diff", "-U0", "--no-renames", "--no-color", commit, check=False)
    current: str | None = None
    number = 0
    for line in patch.stdout.splitlines():
        if line.startswith("+++ "):
            current = line[6:] if line.startswith("+++ b/") else None
        elif line.startswith("@@"):
            match = re.search(r"\+(\d+)", line)
            number = int(match.group(1)) if match else 0
        elif line.startswith("+") and current is not None:
            summary.added.setdefault(current, []).append((number, line[1:]))
            number += 1
    untracked = git(workspace.root, "ls-files", "-z", "-o", "--exclude-standard", check=False)
    for path in filter(None, untracked.stdout.split("\0")):
        if workspace._is_excluded(path):
            continue
        try:
            lines = (workspace.root / path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        summary.files.append(path)
        summary.lines_changed += len(lines)
        summary.added[path] = list(enumerate(lines, start=1))
    summary.files.sort()
    return summary


def _finding(rule_id: str, message: str, path: str | None, line: int | None) -> Finding:
    rule = RULES[rule_id]
    return Finding(
        path=path, line=line, rule=rule.id, rule_name=rule.name, message=message, severity="error"
    )


def _line_of(root: Path, path: str, needle: str) -> int | None:
    try:
        for number, line in enumerate((root / path).read_text(encoding="utf-8").splitlines(), 1):
            if needle in line:
                return number
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _base_gates(workspace: Workspace, commit: str) -> tuple[str, dict[str, Any]] | None:
    for name in (CONFIG_FILE, PYPROJECT_FILE):
        shown = git(workspace.root, "show", f"{commit}:{name}", check=False)
        if shown.returncode == 0:
            gates = config_from_text(shown.stdout, name)
            if gates:
                return name, gates
    return None


def _current_gates(workspace: Workspace) -> tuple[str, dict[str, Any]] | None:
    for name in (CONFIG_FILE, PYPROJECT_FILE):
        path = workspace.root / name
        if path.is_file():
            gates = config_from_text(path.read_text(encoding="utf-8", errors="replace"), name)
            if gates:
                return name, gates
    return None


def _coverage_fail_under(text: str) -> float | None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    value = data.get("tool", {}).get("coverage", {}).get("report", {}).get("fail_under")
    return float(value) if isinstance(value, int | float) else None


def weakened(workspace: Workspace, commit: str) -> list[Finding]:
    """Gate settings that got weaker between the base commit and the working tree."""
    findings: list[Finding] = []
    before = _base_gates(workspace, commit)
    if before is not None:
        file, old = before
        now = _current_gates(workspace)
        new = now[1] if now else {}
        cur_file = now[0] if now else file
        for name, old_gate in old.items():
            if not isinstance(old_gate, dict):
                continue
            new_gate = new.get(name)
            if not isinstance(new_gate, dict):
                findings.append(_finding("MCD030", f"gate '{name}' was removed", cur_file, None))
                continue
            line = _line_of(workspace.root, cur_file, f"gates.{name}]")
            findings += _compare_gate(name, old_gate, new_gate, cur_file, line)
    shown = git(workspace.root, "show", f"{commit}:{PYPROJECT_FILE}", check=False)
    pyproject = workspace.root / PYPROJECT_FILE
    if shown.returncode == 0 and pyproject.is_file():
        old_under = _coverage_fail_under(shown.stdout)
        new_under = _coverage_fail_under(pyproject.read_text(encoding="utf-8", errors="replace"))
        if old_under is not None and (new_under is None or new_under < old_under):
            findings.append(
                _finding(
                    "MCD030",
                    f"coverage fail_under lowered from {old_under:g} to "
                    f"{'unset' if new_under is None else f'{new_under:g}'}",
                    PYPROJECT_FILE,
                    _line_of(workspace.root, PYPROJECT_FILE, "fail_under"),
                )
            )
    return findings


def _compare_gate(
    name: str, old: dict[str, Any], new: dict[str, Any], file: str, line: int | None
) -> list[Finding]:
    out = []

    def weaker(message: str) -> None:
        out.append(_finding("MCD030", f"gate '{name}': {message}", file, line))

    if old.get("required", True) and new.get("required", True) is False:
        weaker("required changed from true to false")
    if old.get("kind") != new.get("kind"):
        weaker(f"kind changed from {old.get('kind')!r} to {new.get('kind')!r}")
    for key in ("min_percent",):
        if _num(new.get(key)) < _num(old.get(key)):
            weaker(f"{key} lowered from {old.get(key)} to {new.get(key)}")
    for key in ("max_changed_lines", "max_changed_files", "retries"):
        if key in old and (key not in new or _num(new[key]) > _num(old[key])):
            weaker(f"{key} raised from {old.get(key)} to {new.get(key, 'unlimited')}")
    removed = set(old.get("protected_paths", [])) - set(new.get("protected_paths", []))
    if removed:
        weaker(f"protected_paths no longer include {', '.join(sorted(removed))}")
    if old.get("check_bypass", True) and new.get("check_bypass", True) is False:
        weaker("check_bypass turned off")
    return out


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def evaluate(
    workspace: Workspace, config: DiffPolicyGate, ref: str
) -> tuple[list[Finding], DiffSummary]:
    summary = collect(workspace, ref)
    findings: list[Finding] = []
    if config.max_changed_lines is not None and summary.lines_changed > config.max_changed_lines:
        findings.append(
            _finding(
                "MCD001",
                f"{summary.lines_changed} changed lines (maximum {config.max_changed_lines})",
                None,
                None,
            )
        )
    if config.max_changed_files is not None and len(summary.files) > config.max_changed_files:
        findings.append(
            _finding(
                "MCD002",
                f"{len(summary.files)} changed files (maximum {config.max_changed_files})",
                None,
                None,
            )
        )
    for path in summary.files:
        if matches_any(path, config.protected_paths):
            findings.append(_finding("MCD003", f"{path} is a protected path", path, None))
    if config.check_bypass:
        for path, lines in summary.added.items():
            is_gate_file = matches_any(path, _GATE_COMMAND_FILES)
            for number, text in lines:
                if _SKIP_MARKERS.search(text):
                    findings.append(
                        _finding("MCD010", "a test is skipped or disabled here", path, number)
                    )
                if is_gate_file and _IGNORED_FAILURE.search(text):
                    findings.append(
                        _finding("MCD020", "a command's failure is ignored here", path, number)
                    )
        findings += weakened(workspace, summary.base)
    return findings, summary
