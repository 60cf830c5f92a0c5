"""Each typed error from a real answer, and which failures are retried."""

from __future__ import annotations

import json
import socket
import sqlite3

import pytest

from midcore.client import (
    AuthenticationError,
    ConflictError,
    ConnectionError,
    Midcore,
    MidcoreError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TimeoutError,
    UnprocessableEntityError,
)
from tests.client.fixtures import Served
from tests.client.proxy import Proxy, http_answer
from tests.e2e.conftest import free_port


def test_401_is_an_authentication_error(served: Served) -> None:
    with (
        Midcore(served.url, "mc_0000_nope") as client,
        pytest.raises(AuthenticationError) as raised,
    ):
        client.runs.get("anything")
    assert raised.value.status == 401
    assert raised.value.request_id
    with Midcore(served.url, "") as client, pytest.raises(AuthenticationError):
        list(client.runs.list())


def test_403_is_a_permission_denied_error(served: Served) -> None:
    with served.client() as owner:
        viewer_key = owner.api_keys.create("viewer", "viewer").key
    with Midcore(served.url, viewer_key) as viewer:
        list(viewer.runs.list())  # a viewer may read
        with pytest.raises(PermissionDeniedError) as raised:
            viewer.runs.create("x", served.repo(), ["true"], gates=[])
    assert raised.value.status == 403 and raised.value.code == "permission_denied"


def test_404_is_a_not_found_error(served: Served) -> None:
    with served.client() as client, pytest.raises(NotFoundError) as raised:
        client.runs.get("01nosuchrun")
    assert raised.value.status == 404 and raised.value.detail


def test_409_is_a_conflict_error(served: Served) -> None:
    repo = served.repo()
    with served.client() as client:
        first = client.runs.create("one", repo, ["true"], gates=[], idempotency_key="k-409")
        with pytest.raises(ConflictError) as raised:
            client.runs.create("two", repo, ["true"], gates=[], idempotency_key="k-409")
        list(client.runs.stream(first.session_id))
    assert raised.value.status == 409


def test_422_is_an_unprocessable_entity_error_with_fields(served: Served) -> None:
    with served.client() as client, pytest.raises(UnprocessableEntityError) as raised:
        client.runs.create("x", served.repo(), ["true"], budget_seconds=0)
    assert raised.value.code == "validation_failed"
    assert [e["field"] for e in raised.value.errors] == ["budget_seconds"]


def test_5xx_is_a_server_error_after_the_retries(
    served: Served, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A separate server whose events table is gone: reading events fails inside the server.
    from tests.e2e.conftest import midcore_env, start_server, stop_server

    data = tmp_path_factory.mktemp("broken") / "data"
    server = start_server(data, midcore_env(data, MIDCORE_WORKSPACE_ROOTS=str(served.roots)))
    try:
        key = server.printed_key()
        with Midcore(server.url, key, max_retries=1) as client:
            accepted = client.runs.create("x", served.repo(), ["true"], gates=[])
            list(client.runs.stream(accepted.session_id))
            with sqlite3.connect(data / "midcore.db") as database:
                database.execute("DROP TABLE run_events")
            with pytest.raises(ServerError) as raised:
                list(client.runs.events(accepted.run_id))
    finally:
        stop_server(server)
    assert raised.value.status == 500
    assert raised.value.code == "internal_error"


def test_429_carries_retry_after_and_is_retried(served: Served, proxy: Proxy) -> None:
    problem = json.dumps({"title": "Too Many Requests", "status": 429, "code": "rate_limited"})
    limited = http_answer(
        "429 Too Many Requests",
        problem.encode(),
        {"Content-Type": "application/problem+json", "Retry-After": "0"},
    )
    with Midcore(proxy.url, served.key, max_retries=0) as client:
        proxy.answer_next(1, limited)
        with pytest.raises(RateLimitError) as raised:
            client.me()
    assert raised.value.retry_after == 0.0 and raised.value.code == "rate_limited"
    with Midcore(proxy.url, served.key, max_retries=2) as client:
        proxy.answer_next(2, limited)
        assert client.me().role == "owner"
    assert proxy.requests_answered_by_proxy == 3


def test_a_gateway_5xx_is_retried_for_reads(served: Served, proxy: Proxy) -> None:
    down = http_answer("502 Bad Gateway", b"upstream down", {"Content-Type": "text/plain"})
    # The proxy answers on new connections, so each phase uses a fresh client.
    with Midcore(proxy.url, served.key, max_retries=1) as client:
        proxy.answer_next(1, down)
        assert client.me().role == "owner"
    with Midcore(proxy.url, served.key, max_retries=1) as client:
        proxy.answer_next(2, down)
        with pytest.raises(ServerError) as raised:
            client.me()
    assert raised.value.status == 502 and raised.value.detail == "upstream down"


def test_a_lost_answer_to_a_create_without_a_key_is_not_retried(
    served: Served, proxy: Proxy
) -> None:
    with Midcore(proxy.url, served.key) as client:
        before = len(list(client.api_keys.list()))
        proxy.drop_next_response()
        with pytest.raises(ConnectionError):
            client.api_keys.create("once", "viewer")
        after = list(client.api_keys.list())
    # The server did create it; a blind retry would have made a second one.
    assert len(after) == before + 1
    assert [k.name for k in after].count("once") == 1


def test_no_server_is_a_connection_error() -> None:
    client = Midcore(f"http://127.0.0.1:{free_port()}", "k", max_retries=1)
    with client, pytest.raises(ConnectionError) as raised:
        client.me()
    assert isinstance(raised.value, MidcoreError)


def test_no_answer_is_a_timeout_error() -> None:
    # A listener that accepts and never answers: the client's timeout decides.
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        client = Midcore(url, "k", timeout=0.5, max_retries=0)
        with client, pytest.raises(TimeoutError):
            client.me()
    finally:
        listener.close()


def test_429_from_the_server_itself(tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.e2e.conftest import midcore_env, start_server, stop_server

    data = tmp_path_factory.mktemp("limited") / "data"
    # Two requests per key in a day-long window: the third is over the limit whatever the clock.
    env = midcore_env(
        data, MIDCORE_RATE_LIMIT_PER_API_KEY="2", MIDCORE_RATE_LIMIT_WINDOW_SECONDS="86400"
    )
    server = start_server(data, env)
    try:
        with Midcore(server.url, server.printed_key(), max_retries=0) as client:
            client.me()
            client.me()
            with pytest.raises(RateLimitError) as raised:
                client.me()
    finally:
        stop_server(server)
    assert raised.value.status == 429 and raised.value.code == "rate_limited"
    assert raised.value.retry_after is not None and raised.value.retry_after > 0
