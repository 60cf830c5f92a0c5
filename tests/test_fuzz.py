"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis).

The real app runs under uvicorn on a loopback port, on a migrated SQLite database with a
tenant and one key per role. Every operation gets a bounded number of generated requests, with
an owner key: no 500, every error is problem+json, and status, content type, headers and body
conform to the schema. The figures are printed (`pytest -s`) for the record.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from midcore.app import create_app
from midcore.auth.roles import Role
from midcore.config import Settings
from midcore.db import Database
from tests.conftest import make_tenant, run_blocking
from tests.e2e.conftest import free_port

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code", "request_id"}
# Examples per operation; raise it locally with MIDCORE_FUZZ_EXAMPLES for a deeper run.
EXAMPLES = int(os.environ.get("MIDCORE_FUZZ_EXAMPLES", "40"))
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class LiveApp:
    url: str
    headers: dict[str, str]
    schema: dict[str, Any]


@pytest.fixture(scope="module")
def live_app(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copy(sqlite_template, folder / "midcore.db")
    url = f"sqlite+aiosqlite:///{folder / 'midcore.db'}"
    settings = Settings(
        data_dir=folder,
        database_url=url,
        bootstrap=False,
        auto_migrate=False,
        # Fuzzing sends far more than a person would; the limits have their own tests.
        rate_limit_per_api_key=0,
        rate_limit_sign_in_per_ip=0,
    )
    app = create_app(settings)

    async def seed() -> str:
        database = Database(url)
        try:
            return (await make_tenant(database, "acme")).keys[Role.owner]
        finally:
            await database.dispose()

    key = run_blocking(seed())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield LiveApp(f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}, app.openapi())
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass
class Figures:
    operations: int = 0
    requests: int = 0
    failures: list[str] = field(default_factory=list)


def _check_problem(response: Any) -> None:
    if response.status_code < 400:
        return
    # schemathesis keeps every header as a list of values.
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith("application/problem+json"), (
        f"{response.status_code} is not problem+json"
    )
    body = response.json()
    assert set(body) >= PROBLEM_FIELDS, f"problem without {PROBLEM_FIELDS - set(body)}"
    assert body["status"] == response.status_code


def test_fuzz_the_whole_api(live_app: LiveApp) -> None:
    schema = schemathesis.openapi.from_dict(live_app.schema)
    figures = Figures()
    with httpx.Client(base_url=live_app.url, timeout=30) as http:
        for result in schema.get_all_operations():
            operation = result.ok()
            figures.operations += 1
            # Valid requests and invalid ones (wrong types, missing fields, bad formats).
            strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
                GenerationMode.NEGATIVE
            )

            @hypothesis.settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @hypothesis.given(case=strategy)
            def run(case: schemathesis.Case) -> None:
                figures.requests += 1
                response = case.call(base_url=live_app.url, headers=live_app.headers)
                case.validate_response(response, checks=CHECKS)
                _check_problem(response)

            try:
                run()
            except BaseException as exc:  # schemathesis raises exception groups
                if isinstance(exc, KeyboardInterrupt):
                    raise
                figures.failures.append(f"{operation.label}: {str(exc)[:1500]}")
        assert http.get("/healthz").status_code == 200
    print(
        f"\nfuzz: {figures.operations} operations, {figures.requests} requests "
        f"({EXAMPLES} examples each at most), {len(figures.failures)} failing operations"
    )
    assert not figures.failures, "\n\n".join(figures.failures)
