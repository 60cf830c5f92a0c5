"""The secrets gate: committed credentials, reported by kind and place, never by value."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from midcore.gates.models import Finding

MAX_FILE_BYTES = 1 << 20
ALLOW_PRAGMA = "midcore: allow-secret"


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    description: str
    pattern: re.Pattern[str]
    group: int = 0  # the capture group that is the secret


RULES = (
    Rule(
        "MCS001",
        "aws-access-key-id",
        "AWS access key id",
        re.compile(r"\b((?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[0-9A-Z]{16})\b"),
        1,
    ),
    Rule(
        "MCS002",
        "aws-secret-access-key",
        "AWS secret access key in an assignment",
        re.compile(
            r"(?i)aws_?secret_?(?:access_?)?key\w*[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{40})\b"
        ),
        1,
    ),
    Rule(
        "MCS003",
        "private-key",
        "private key block",
        re.compile(
            r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY( BLOCK)?-----"
        ),
    ),
    Rule(
        "MCS004",
        "github-token",
        "GitHub token",
        re.compile(r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b"),
        1,
    ),
    Rule(
        "MCS005",
        "slack-token",
        "Slack token",
        re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]{10,})\b"),
        1,
    ),
    Rule(
        "MCS006",
        "google-api-key",
        "Google API key",
        re.compile(r"\b(AIza[0-9A-Za-z_\-]{35})\b"),
        1,
    ),
    Rule(
        "MCS007",
        "stripe-secret-key",
        "Stripe live secret key",
        re.compile(r"\b((?:sk|rk)_live_[0-9A-Za-z]{20,})\b"),
        1,
    ),
    Rule(
        "MCS008",
        "openai-style-key",
        "API secret key (sk-…)",
        re.compile(r"\b(sk-(?:proj-)?[A-Za-z0-9_\-]{32,})\b"),
        1,
    ),
)

ENTROPY_RULE = Rule(
    "MCS100",
    "high-entropy-assignment",
    "high-entropy string assigned to a secret-looking name",
    re.compile(
        r"(?i)\b([a-z0-9_\-]*(?:secret|token|passw(?:or)?d|pwd|api_?key|apikey|access_?key|"
        r"auth(?!or)|credential|private_?key)[a-z0-9_\-]*)[\"']?\s*(?::=|=|:)\s*[bru]?[\"']"
        r"([^\"'\s]{16,})[\"']"
    ),
    2,
)
RULE_BY_ID = {rule.id: rule for rule in (*RULES, ENTROPY_RULE)}


def shannon_entropy(text: str) -> float:
    counts = Counter(text)
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _fingerprint(rule: str, path: str, secret: str) -> str:
    # Hash of the secret with its place: identifies the finding without revealing the value.
    return hashlib.sha256(f"{rule}\0{path}\0{secret}".encode()).hexdigest()[:32]


_URL_WITHOUT_CREDENTIALS = re.compile(r"^[a-z][a-z0-9+.-]*://[^@\s]*$", re.IGNORECASE)


def _looks_like_placeholder(value: str) -> bool:
    lowered = value.lower()
    return (
        # A plain URL is an address, not a secret; one with user:password@ may be.
        bool(_URL_WITHOUT_CREDENTIALS.match(value))
        or lowered.startswith(("${", "{{", "<", "%(", "os.environ", "env("))
        or "example" in lowered
        or "xxxx" in lowered
        or "changeme" in lowered
        or len(set(value)) < 6
    )


def scan_text(text: str, path: str, min_entropy: float = 4.0) -> list[Finding]:
    findings: list[Finding] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if ALLOW_PRAGMA in line:
            continue
        hit_on_line = False
        for rule in RULES:
            for match in rule.pattern.finditer(line):
                secret = match.group(rule.group)
                if rule.group and _looks_like_placeholder(secret):
                    continue
                hit_on_line = True
                findings.append(_finding(rule, path, number, match.start(rule.group) + 1, secret))
        if hit_on_line:
            continue
        for match in ENTROPY_RULE.pattern.finditer(line):
            value = match.group(2)
            if _looks_like_placeholder(value) or shannon_entropy(value) < min_entropy:
                continue
            findings.append(_finding(ENTROPY_RULE, path, number, match.start(2) + 1, value))
    return findings


def _finding(rule: Rule, path: str, line: int, column: int, secret: str) -> Finding:
    return Finding(
        path=path,
        line=line,
        column=column,
        rule=rule.id,
        rule_name=rule.name,
        # The message names the kind and length only: the value must not reach any report.
        message=f"possible {rule.description} ({len(secret)} characters; value not shown)",
        severity="error",
        fingerprint=_fingerprint(rule.id, path, secret),
    )


def scan_files(
    read: Iterable[tuple[str, bytes]], min_entropy: float = 4.0
) -> tuple[list[Finding], int]:
    """Scan (path, bytes) pairs; returns the findings and how many files were text and scanned."""
    findings: list[Finding] = []
    scanned = 0
    for path, data in read:
        if len(data) > MAX_FILE_BYTES or b"\0" in data[:8192]:
            continue
        scanned += 1
        findings.extend(scan_text(data.decode("utf-8", errors="replace"), path, min_entropy))
    return findings, scanned
