"""Shared fixtures: a real server on loopback, its owner key, a proxy in front of it, a ledger."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from midcore.client import Midcore
from tests.client.proxy import Proxy
from tests.conftest import run_blocking
from tests.e2e.conftest import RunningServer, midcore_env, start_server, stop_server
from tests.runs.conftest import make_repo

# Prints numbered lines, then waits for a file before printing more: a test decides when the run
# may go on, so "mid-run" holds without timing.
GATED_AGENT = """
import os, sys, time
release = sys.argv[1]
for i in range(5):
    print("tick", i, flush=True)
while not os.path.exists(release):
    time.sleep(0.02)
for i in range(5, 10):
    print("tick", i, flush=True)
"""


@dataclass
class Served:
    server: RunningServer
    key: str
    roots: Path
    tmp_path: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        port = urlparse(self.server.url).port
        assert port is not None
        return port

    def client(self, **options: object) -> Midcore:
        return Midcore(self.url, self.key, **options)  # type: ignore[arg-type]

    def repo(self) -> Path:
        return make_repo(self.roots, f"app-{uuid.uuid4().hex[:8]}")

    def agent(self, source: str, *args: str, name: str = "agent.py") -> list[str]:
        path = self.tmp_path / name
        path.write_text(source)
        return [sys.executable, str(path), *args]

    def gated_agent(self) -> tuple[list[str], Path]:
        # A release file of its own: one test's release must not free another test's agent.
        release = self.tmp_path / f"release-{uuid.uuid4().hex}"
        return self.agent(GATED_AGENT, str(release), name="gated.py"), release


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for a module's tests (starting one takes a while); tests make their own repos."""
    tmp_path = tmp_path_factory.mktemp("served")
    roots = tmp_path / "workspaces"
    roots.mkdir()
    env = midcore_env(tmp_path / "data", MIDCORE_WORKSPACE_ROOTS=str(roots))
    server = start_server(tmp_path / "data", env)
    yield Served(server, server.printed_key(), roots, tmp_path)
    stop_server(server)


@pytest.fixture
def proxy(served: Served) -> Iterator[Proxy]:
    running = Proxy(served.port)
    yield running
    running.close()


@pytest.fixture(scope="module")
def ledger(served: Served) -> list[dict[str, Any]]:
    """Three gate statements appended to the default tenant's log; skips without the endpoints."""
    paths = httpx.get(f"{served.url}/openapi.json", timeout=10).json()["paths"]
    if "/api/v1/autonomy/evidence" not in paths:
        pytest.skip("this server has no evidence API yet")
    from midcore.db import Database
    from midcore.evidence import statements as st
    from midcore.evidence.keys import KeyStore
    from midcore.evidence.service import EvidenceService

    with served.client() as client:
        tenant_id = client.me().tenant.id
    data_dir = served.server.data_dir
    subject = st.subject("workspace", git_commit="a" * 40, sha256="b" * 64)
    statements = [
        st.statement(
            [subject],
            st.TEST_RESULT_PREDICATE,
            st.test_result_predicate("PASSED" if n != 1 else "FAILED", passed_tests=[f"t{n}"]),
        )
        for n in range(3)
    ]

    async def append() -> None:
        database = Database(f"sqlite+aiosqlite:///{data_dir / 'midcore.db'}")
        service = EvidenceService(KeyStore(data_dir / "keys"))
        try:
            async with database.session() as session:
                for number, statement in enumerate(statements):
                    await service.append(
                        session, tenant_id, statement, gate=f"gate-{number}", workspace="app"
                    )
                await session.commit()
        finally:
            await database.dispose()

    run_blocking(append())
    return statements
