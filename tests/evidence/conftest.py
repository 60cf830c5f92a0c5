from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from midcore.evidence import statements as st
from midcore.evidence.keys import KeyStore
from midcore.evidence.ledger import MemoryLedger

SUBJECT = st.subject("workspace", git_commit="a" * 40, sha256="b" * 64)
STARTED_AT = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def gate_statement(number: int) -> dict[str, object]:
    predicate = st.test_result_predicate(
        "PASSED" if number % 3 else "FAILED",
        configuration=[{"name": "midcore.toml", "digest": {"sha256": "c" * 64}}],
        passed_tests=[f"tests/test_{number}.py::test_ok"],
        failed_tests=[] if number % 3 else [f"tests/test_{number}.py::test_bad"],
    )
    return st.statement([SUBJECT], st.TEST_RESULT_PREDICATE, predicate)


def run_statement(number: int) -> dict[str, object]:
    predicate = st.run_predicate(
        run_id=f"run-{number}",
        task="make the failing test pass",
        agent={"kind": "command", "command": ["my-agent"]},
        actor="user:alice",
        budget_seconds=600,
        started_at=STARTED_AT,
        finished_at=STARTED_AT,
        state="succeeded",
        status_reason=None,
        patch_sha256="d" * 64,
        transcript_sha256="e" * 64,
    )
    return st.statement([SUBJECT], st.RUN_PREDICATE, predicate)


@pytest.fixture
def key_store(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "keys")


@pytest.fixture
def make_ledger(key_store: KeyStore) -> Callable[[int], MemoryLedger]:
    """A ledger of n entries alternating run and gate statements (run first)."""

    def make(size: int) -> MemoryLedger:
        ledger = MemoryLedger("tenant-a", key_store)
        for number in range(size):
            ledger.append(run_statement(number) if number % 2 == 0 else gate_statement(number))
        return ledger

    return make
