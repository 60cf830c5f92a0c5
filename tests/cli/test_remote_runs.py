"""`midcore run --server` and `midcore runs ...` against a real server: output, JSON, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.client.fixtures import Served
from tests.client.proxy import Proxy
from tests.e2e.conftest import MIDCORE, midcore_env, run_midcore
from tests.runs.conftest import FIXING_AGENT


@pytest.fixture
def env(served: Served, tmp_path: Path) -> dict[str, str]:
    """A shell configured for the server, as a CI job would be."""
    return midcore_env(tmp_path / "cli-data", MIDCORE_URL=served.url, MIDCORE_API_KEY=served.key)


def agent(served: Served, source: str, name: str) -> str:
    path = served.tmp_path / name
    path.write_text(source)
    return f"{sys.executable} {path} {{task}}"


def start(served: Served, env: dict[str, str], command: str, *extra: str) -> dict[str, Any]:
    result = run_midcore(
        "run", "task", "-w", str(served.repo()), "-a", command, "--detach", "--json", *extra,
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_remote_run_succeeds_with_live_output(served: Served, env: dict[str, str]) -> None:
    command = agent(served, FIXING_AGENT, "fix.py")
    result = run_midcore("run", "fix add", "-w", str(served.repo()), "-a", command, env=env)
    assert result.returncode == 0, result.stderr
    assert "fixed calc.py" in result.stdout
    assert "· gate tests …" in result.stderr
    assert "· gate tests: passed" in result.stderr
    assert "succeeded (gates_passed)" in result.stderr.splitlines()[-1]


def test_remote_run_that_fails_its_gates_exits_1_with_the_same_json(
    served: Served, env: dict[str, str]
) -> None:
    repo = served.repo()
    result = run_midcore("run", "nothing", "-w", str(repo), "-a", "true", "--json", env=env)
    assert result.returncode == 1
    run = json.loads(result.stdout)
    assert (run["status"], run["status_reason"]) == ("failed", "gate_failed:tests")
    assert run["workspace"] == {"path": str(repo)}
    assert run["gate_verdicts"][0]["verdict"] == "failed"
    shown = run_midcore("runs", "show", run["id"], "--json", env=env)
    assert json.loads(shown.stdout) == run


def test_remote_run_with_server_flag_and_idempotency_key(served: Served, tmp_path: Path) -> None:
    bare = midcore_env(tmp_path / "d")  # no MIDCORE_URL: the flags say it all
    repo = str(served.repo())
    args = ["run", "t", "-w", repo, "-a", "true", "--no-gates", "--json", "--server", served.url,
            "--api-key", served.key, "--idempotency-key", "ci-job-42"]  # fmt: skip
    first = run_midcore(*args, env=bare)
    again = run_midcore(*args, env=bare)
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert json.loads(first.stdout)["id"] == json.loads(again.stdout)["id"]


def test_remote_run_errors(served: Served, env: dict[str, str], tmp_path: Path) -> None:
    invalid = run_midcore("run", "t", "-w", str(served.repo()), "-a", "true", "--budget", "1",
                          "--gate", "", env=env)  # fmt: skip
    assert invalid.returncode == 2
    assert invalid.stderr.startswith("midcore: error: ") and "gates" in invalid.stderr
    bad_key = run_midcore("runs", "list", env={**env, "MIDCORE_API_KEY": "mc_0_nope"})
    assert bad_key.returncode == 1
    assert bad_key.stderr.startswith("midcore: error: ") and "HTTP 401" in bad_key.stderr
    no_server = run_midcore("runs", "list", env=midcore_env(tmp_path / "d"))
    assert no_server.returncode == 2
    assert no_server.stderr == "midcore: error: no server: pass --server URL or set MIDCORE_URL\n"
    local_only = run_midcore("run", "t", "-a", "true", "--detach", env=midcore_env(tmp_path / "d"))
    assert local_only.returncode == 2


def test_runs_list_show_cancel(served: Served, env: dict[str, str]) -> None:
    command, _release = served.gated_agent()  # never released: it waits to be cancelled
    accepted = start(served, env, " ".join(command), "--no-gates")
    run_id = accepted["run_id"]

    listed = run_midcore("runs", "list", "--json", env=env)
    assert listed.returncode == 0
    assert run_id in [run["id"] for run in json.loads(listed.stdout)]
    table = run_midcore("runs", "list", "--limit", "1", env=env)
    assert table.returncode == 0 and run_id in table.stdout and "status" in table.stdout

    shown = run_midcore("runs", "show", run_id, env=env)
    assert shown.returncode == 0
    assert f"run       {run_id}" in shown.stdout and "budget    " in shown.stdout

    cancelled = run_midcore("runs", "cancel", run_id, "--json", env=env)
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["id"] == run_id
    followed = run_midcore("runs", "follow", run_id, env=env)
    assert followed.returncode == 1
    assert followed.stderr.splitlines()[-1].startswith(f"run {run_id}: cancelled")
    human_cancel = run_midcore("runs", "cancel", run_id, env=env)
    assert human_cancel.returncode == 1 and "HTTP 409" in human_cancel.stderr
    missing = run_midcore("runs", "show", "01nosuchrun", env=env)
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr


def test_follow_json_prints_the_events_and_exits_by_outcome(
    served: Served, env: dict[str, str]
) -> None:
    accepted = start(served, env, agent(served, FIXING_AGENT, "fix2.py"))
    followed = run_midcore("runs", "follow", accepted["run_id"], "--json", env=env)
    assert followed.returncode == 0, followed.stderr
    events = [json.loads(line) for line in followed.stdout.splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "run.finished" and events[-1]["data"]["status"] == "succeeded"
    state = next(e for e in events if e["type"] == "run.state")
    assert set(state["data"]) == {"from", "to", "reason"}  # the server's payload, unchanged
    tail = run_midcore("runs", "follow", accepted["run_id"], "--json", "--after",
                       str(len(events) - 1), env=env)  # fmt: skip
    assert [json.loads(line)["seq"] for line in tail.stdout.splitlines()] == [len(events)]


def _follow_through_a_drop(
    served: Served, env: dict[str, str], proxy: Proxy, *json_flag: str
) -> tuple[subprocess.CompletedProcess[str], int]:
    command, release = served.gated_agent()
    accepted = start(served, env, " ".join(command), "--no-gates")
    process = subprocess.Popen(
        [MIDCORE, "runs", "follow", accepted["run_id"], "--server", proxy.url, *json_flag],
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    connections = 0
    for line in _lines(process.stdout):
        lines.append(line)
        if "tick 4" in line:
            # The agent now waits for the release file: the run is surely still going.
            connections = proxy.connections
            proxy.cut()
            release.touch()
            break
    # Read on through the same file object: it may hold lines already (communicate would skip them).
    rest = process.stdout.read()
    assert process.stderr is not None
    stderr = process.stderr.read()
    process.wait(timeout=120)
    return (
        subprocess.CompletedProcess(
            process.args, process.returncode, "".join(lines) + rest, stderr
        ),
        connections,
    )


def _lines(stream: Any) -> Iterator[str]:
    while line := stream.readline():
        yield line


def test_follow_survives_a_network_drop(served: Served, env: dict[str, str], proxy: Proxy) -> None:
    result, connections = _follow_through_a_drop(served, env, proxy)
    assert result.returncode == 0, result.stderr
    assert proxy.connections > connections > 0
    assert "· connection lost (" in result.stderr and "resuming after event" in result.stderr
    ticks = [line for line in result.stdout.splitlines() if line.startswith("tick")]
    assert ticks == [f"tick {i}" for i in range(10)]
    assert "succeeded" in result.stderr.splitlines()[-1]


def test_follow_json_survives_a_network_drop(
    served: Served, env: dict[str, str], proxy: Proxy
) -> None:
    result, connections = _follow_through_a_drop(served, env, proxy, "--json")
    assert result.returncode == 0, result.stderr
    assert proxy.connections > connections > 0
    events = [json.loads(line) for line in result.stdout.splitlines()]  # stdout stays pure JSON
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    text = "".join(e["data"]["text"] for e in events if e["type"] == "agent.output")
    assert text == "".join(f"tick {i}\n" for i in range(10))
