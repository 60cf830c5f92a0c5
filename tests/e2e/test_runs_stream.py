"""Runs over a real socket: follow the SSE stream, resume it, share it, survive a server crash."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningServer, midcore_env, start_server, stop_server
from tests.runs.conftest import FIXING_AGENT, make_repo

TERMINAL = {"succeeded", "failed", "cancelled", "timed_out", "error"}

# Prints a numbered line every 50 ms for a while, so a stream has something to resume mid-run.
TICKING_AGENT = """
import sys, time
for i in range(40):
    print("tick", i, flush=True)
    time.sleep(0.05)
"""


def parse_sse(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Yield events ({"id", "event", "data"}) and comments ({"comment"}) as they arrive."""
    fields: dict[str, Any] = {}
    for line in lines:
        if line == "":
            if fields:
                yield fields
                fields = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


def read_stream(
    server: RunningServer,
    key: str,
    session_id: str,
    *,
    last_event_id: int | None = None,
    stop_after: int | None = None,
) -> list[dict[str, Any]]:
    """Events of a session's stream until it ends, or until `stop_after` events (then hang up)."""
    headers = {"Authorization": f"Bearer {key}"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    events = []
    url = f"{server.url}/api/v1/autonomy/streaming/{session_id}/events"
    with httpx.stream("GET", url, headers=headers, timeout=60) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        for item in parse_sse(response.iter_lines()):
            if "comment" in item:
                continue
            payload = json.loads(item["data"])
            assert int(item["id"]) == payload["seq"] and item["event"] == payload["type"]
            events.append(payload)
            if stop_after is not None and len(events) == stop_after:
                break
    return events


@pytest.fixture
def run_server(tmp_path: Path) -> Iterator[tuple[RunningServer, str, Path]]:
    roots = tmp_path / "workspaces"
    roots.mkdir()
    env = midcore_env(tmp_path / "data", MIDCORE_WORKSPACE_ROOTS=str(roots))
    server = start_server(tmp_path / "data", env)
    yield server, server.printed_key(), roots
    stop_server(server)


def start_run(server: RunningServer, key: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/api/v1/autonomy/run",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return dict(response.json())


def agent(tmp_path: Path, source: str, name: str = "agent.py") -> list[str]:
    path = tmp_path / name
    path.write_text(source)
    return [sys.executable, str(path), "{task}"]


def test_follow_a_run_to_its_verdict(
    run_server: tuple[RunningServer, str, Path], tmp_path: Path
) -> None:
    server, key, roots = run_server
    repo = make_repo(roots)
    accepted = start_run(
        server,
        key,
        {
            "task": "make the failing test pass",
            "workspace": {"path": str(repo)},
            "agent": {"kind": "command", "command": agent(tmp_path, FIXING_AGENT)},
            "budget_seconds": 120,
        },
    )
    events = read_stream(server, key, accepted["session_id"])
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    types = [e["type"] for e in events]
    assert types[:3] == ["run.queued", "run.started", "run.state"]
    assert types[-1] == "run.finished"
    assert types.index("agent.output") < types.index("gate.started") < types.index("gate.finished")
    finished = events[-1]["data"]
    assert finished["status"] == "succeeded"
    assert finished["gates"] == [{"name": "tests", "verdict": "passed", "required": True}]
    assert all(e["run_id"] == accepted["run_id"] for e in events)
    assert all(e["ts"].endswith("Z") for e in events)
    run = httpx.get(
        f"{server.url}{accepted['links']['self']}", headers={"X-API-Key": key}, timeout=10
    ).json()
    assert run["patch_sha256"] == finished["patch_sha256"]
    # Evidence: a statement per gate, one for the gate set, one for the run; the run's own
    # statement is provably in the signed log.
    appended = [e["data"] for e in events if e["type"] == "evidence.appended"]
    assert [a["kind"] for a in appended] == ["gate", "gate", "run"]
    assert (
        finished["evidence_entry_ids"]
        == run["evidence_entry_ids"]
        == [a["entry_id"] for a in appended]
    )
    assert_run_statement_is_proven(server, key, run)


def assert_run_statement_is_proven(server: RunningServer, key: str, run: dict[str, Any]) -> None:
    import base64

    from midcore.evidence import merkle, note, statements

    proven = httpx.get(
        f"{server.url}/api/v1/autonomy/evidence/{run['evidence_entry_ids'][-1]}",
        headers={"X-API-Key": key},
        timeout=10,
    ).json()
    envelope = proven["entry"]["envelope"]
    statement = statements.decode(base64.b64decode(envelope["payload"]))
    assert statement["predicate"]["runId"] == run["id"]
    assert statement["predicate"]["state"] == run["status"]
    if run["patch_sha256"]:
        assert statement["predicate"]["patch"] == {"sha256": run["patch_sha256"]}
        assert statement["subject"][0]["digest"]["sha256"] == run["patch_sha256"]
    else:
        assert statement["predicate"]["patch"] is None
    leaf = json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()
    checkpoint = note.Checkpoint.parse(note.split_note(proven["checkpoint"])[0])
    proof = [base64.b64decode(h) for h in proven["inclusion"]["hashes"]]
    assert merkle.verify_inclusion(
        proven["inclusion"]["log_index"],
        checkpoint.size,
        merkle.leaf_hash(leaf),
        proof,
        checkpoint.root,
    )


def test_resume_mid_run_and_after_the_end(
    run_server: tuple[RunningServer, str, Path], tmp_path: Path
) -> None:
    server, key, roots = run_server
    repo = make_repo(roots)
    accepted = start_run(
        server,
        key,
        {
            "task": "tick",
            "workspace": {"path": str(repo)},
            "agent": {"kind": "command", "command": agent(tmp_path, TICKING_AGENT)},
            "gates": [],
            "budget_seconds": 60,
        },
    )
    first = read_stream(server, key, accepted["session_id"], stop_after=4)
    assert [e["seq"] for e in first] == [1, 2, 3, 4]
    rest = read_stream(server, key, accepted["session_id"], last_event_id=4)
    assert rest[0]["seq"] == 5
    combined = first + rest
    assert [e["seq"] for e in combined] == list(range(1, len(combined) + 1))
    assert combined[-1]["type"] == "run.finished"
    ticks = "".join(e["data"]["text"] for e in combined if e["type"] == "agent.output")
    assert [line.split()[1] for line in ticks.splitlines()] == [str(i) for i in range(40)]
    # After the end: a resume gets exactly what follows, and the stream closes.
    tail = read_stream(server, key, accepted["session_id"], last_event_id=len(combined) - 2)
    assert [e["seq"] for e in tail] == [len(combined) - 1, len(combined)]
    assert read_stream(server, key, accepted["session_id"], last_event_id=len(combined)) == []
    # ?after= does the same as the header.
    url = f"{server.url}/api/v1/autonomy/streaming/{accepted['session_id']}/events"
    body = httpx.get(url, params={"after": len(combined) - 1}, headers={"X-API-Key": key}).text
    assert body.count("event: run.finished") == 1 and body.count("id: ") == 1


def test_many_subscribers_get_every_event(
    run_server: tuple[RunningServer, str, Path], tmp_path: Path
) -> None:
    server, key, roots = run_server
    repo = make_repo(roots)
    accepted = start_run(
        server,
        key,
        {
            "task": "tick",
            "workspace": {"path": str(repo)},
            "agent": {"kind": "command", "command": agent(tmp_path, TICKING_AGENT)},
            "gates": [],
            "budget_seconds": 60,
        },
    )
    results: list[list[int]] = []

    def follow() -> None:
        results.append([e["seq"] for e in read_stream(server, key, accepted["session_id"])])

    threads = [threading.Thread(target=follow) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 6
    assert all(seqs == results[0] for seqs in results)
    assert results[0] == list(range(1, len(results[0]) + 1))


def test_stream_true_answers_with_the_whole_run(
    run_server: tuple[RunningServer, str, Path], tmp_path: Path
) -> None:
    server, key, roots = run_server
    repo = make_repo(roots)
    body = {
        "task": "tick",
        "workspace": {"path": str(repo)},
        "agent": {"kind": "command", "command": agent(tmp_path, TICKING_AGENT)},
        "gates": [],
        "budget_seconds": 60,
        "stream": True,
    }
    with httpx.stream(
        "POST",
        f"{server.url}/api/v1/autonomy/run",
        json=body,
        headers={"X-API-Key": key},
        timeout=60,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(i["data"]) for i in parse_sse(response.iter_lines()) if "data" in i]
    assert events[0]["type"] == "run.queued" and events[-1]["type"] == "run.finished"
    assert events[-1]["data"]["status"] == "succeeded"


def test_keepalive_comments(tmp_path: Path) -> None:
    roots = tmp_path / "workspaces"
    roots.mkdir()
    env = midcore_env(
        tmp_path / "data", MIDCORE_WORKSPACE_ROOTS=str(roots), MIDCORE_SSE_KEEPALIVE_SECONDS="0.3"
    )
    server = start_server(tmp_path / "data", env)
    try:
        key = server.printed_key()
        repo = make_repo(roots)
        accepted = start_run(
            server,
            key,
            {
                "task": "wait",
                "workspace": {"path": str(repo)},
                "agent": {"kind": "command", "command": ["sleep", "2"]},
                "gates": [],
                "budget_seconds": 60,
            },
        )
        url = f"{server.url}/api/v1/autonomy/streaming/{accepted['session_id']}/events"
        with httpx.stream("GET", url, headers={"X-API-Key": key}, timeout=30) as response:
            items = list(parse_sse(response.iter_lines()))
        assert {"comment": "keepalive"} in items
        assert json.loads(items[-1]["data"])["type"] == "run.finished"
    finally:
        stop_server(server)


def test_a_crashed_server_ends_its_runs_as_worker_lost(tmp_path: Path) -> None:
    roots = tmp_path / "workspaces"
    roots.mkdir()
    env = midcore_env(tmp_path / "data", MIDCORE_WORKSPACE_ROOTS=str(roots))
    server = start_server(tmp_path / "data", env)
    key = server.printed_key()
    repo = make_repo(roots)
    accepted = start_run(
        server,
        key,
        {
            "task": "wait",
            "workspace": {"path": str(repo)},
            "agent": {"kind": "command", "command": ["sleep", "300"]},
            "budget_seconds": 600,
        },
    )
    run_url = f"{server.url}/api/v1/autonomy/runs/{accepted['run_id']}"
    deadline = time.monotonic() + 30
    while httpx.get(run_url, headers={"X-API-Key": key}).json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    restarted = start_server(tmp_path / "data", env)
    try:
        run = httpx.get(
            f"{restarted.url}/api/v1/autonomy/runs/{accepted['run_id']}", headers={"X-API-Key": key}
        ).json()
        assert (run["status"], run["status_reason"]) == ("error", "worker_lost")
        events = read_stream(restarted, key, accepted["session_id"])
        assert events[-1]["type"] == "run.finished"
        assert events[-1]["data"]["status_reason"] == "worker_lost"
        assert_run_statement_is_proven(
            restarted, key, run | {"evidence_entry_ids": events[-1]["data"]["evidence_entry_ids"]}
        )
    finally:
        stop_server(restarted)
