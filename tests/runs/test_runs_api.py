from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from midcore.auth.roles import Role
from midcore.config import Settings
from tests.conftest import TenantKeys
from tests.runs.conftest import (
    FIXING_AGENT,
    git,
    run_body,
    script_agent,
    wait_for_end,
    wait_for_status,
)
from tests.test_app import assert_problem

RUN = "/api/v1/autonomy/run"
RUNS = "/api/v1/autonomy/runs"

SLEEPING_AGENT = """
import os, pathlib, sys, time
pathlib.Path("pids").write_text(str(os.getpid()))
print("sleeping", flush=True)
time.sleep(600)
"""

# Forks children that ignore SIGTERM, then ignores it too: only SIGKILL on the group ends it.
STUBBORN_AGENT = """
import os, pathlib, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pids = [os.getpid()]
for _ in range(3):
    child = os.fork()
    if child == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(600)
        os._exit(0)
    pids.append(child)
pathlib.Path("pids").write_text(" ".join(map(str, pids)))
print("children started", flush=True)
time.sleep(600)
"""


def _survivors(marker: str) -> list[int]:
    """Host pids of live processes whose command line mentions `marker` (the agent's script).

    Inside the sandbox's pid namespace pids differ, so processes are found by what they run.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


async def _start(
    client: httpx.AsyncClient, tenant: TenantKeys, body: dict, **headers: str
) -> httpx.Response:
    return await client.post(RUN, json=body, headers={**tenant.headers(Role.operator), **headers})


async def _pids_from(path: Path, seconds: float = 30) -> list[int]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if path.exists() and path.read_text().strip():
            return [int(p) for p in path.read_text().split()]
        await asyncio.sleep(0.05)
    raise AssertionError("the agent never wrote its pids")


class TestStartRun:
    async def test_anonymous(self, client: httpx.AsyncClient, repo: Path, tmp_path: Path) -> None:
        response = await client.post(RUN, json=run_body(repo, ["true"]))
        assert_problem(response, 401, "authentication_required")

    async def test_viewer_may_not_start(
        self, client: httpx.AsyncClient, tenant: TenantKeys, repo: Path
    ) -> None:
        response = await client.post(
            RUN, json=run_body(repo, ["true"]), headers=tenant.headers(Role.viewer)
        )
        assert_problem(response, 403, "permission_denied")

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"task": ""}, "task"),
            ({"budget_seconds": 0}, "budget_seconds"),
            ({"agent": {"kind": "command", "command": []}}, "agent.command.command"),
            ({"agent": {"kind": "telepathy"}}, "agent"),
            ({"workspace": {"path": "/x", "git": "https://example.com/r.git"}}, "workspace"),
            ({"unexpected": 1}, "unexpected"),
            ({"budget_seconds": True}, "budget_seconds"),
            ({"budget_seconds": "60"}, "budget_seconds"),
            ({"stream": "yes"}, "stream"),
        ],
    )
    async def test_invalid_body(
        self,
        client: httpx.AsyncClient,
        tenant: TenantKeys,
        repo: Path,
        change: dict,
        field: str,
    ) -> None:
        body = run_body(repo, ["true"]) | change
        body = {k: v for k, v in body.items() if v is not None}
        response = await _start(client, tenant, body)
        problem = assert_problem(response, 422, "validation_failed")
        assert any(e["field"].startswith(field.split(".")[0]) for e in problem["errors"])  # type: ignore[attr-defined]

    async def test_budget_above_maximum(
        self, client: httpx.AsyncClient, tenant: TenantKeys, repo: Path, settings: Settings
    ) -> None:
        body = run_body(repo, ["true"], budget_seconds=settings.max_budget_seconds + 1)
        problem = assert_problem(await _start(client, tenant, body), 422, "validation_failed")
        assert "maximum" in str(problem["detail"])

    async def test_path_escapes_are_refused(
        self, client: httpx.AsyncClient, tenant: TenantKeys, repo: Path, tmp_path: Path
    ) -> None:
        outside = tmp_path / "outside"
        outside.mkdir()
        link = repo.parent / "sneaky"
        link.symlink_to(outside)
        for path in [str(outside), f"{repo}/../../outside", str(link), "relative/path", "/etc"]:
            response = await _start(client, tenant, run_body(Path(path), ["true"]))
            assert_problem(response, 422, "workspace_rejected")

    async def test_unusable_paths_and_urls_are_422_not_500(
        self, client: httpx.AsyncClient, tenant: TenantKeys, repo: Path
    ) -> None:
        for workspace in [
            {"path": f"{repo}\u0000x"},
            {"path": f"{repo.parent}/{'a' * 300}"},
            {"git": f"file://{repo}\u0000"},
            {"git": "https://user:secret@example.com/x/y.git"},
        ]:
            body = run_body(repo, ["true"]) | {"workspace": workspace}
            assert_problem(await _start(client, tenant, body), 422, "workspace_rejected")

    async def test_dangerous_git_transport_is_refused(
        self, client: httpx.AsyncClient, tenant: TenantKeys, repo: Path
    ) -> None:
        body = run_body(repo, ["true"]) | {"workspace": {"git": "ext::sh -c touch% /tmp/pwned"}}
        assert_problem(await _start(client, tenant, body), 422, "workspace_rejected")

    async def test_run_fixes_the_bug_and_the_gates_judge_it(
        self, client: httpx.AsyncClient, tenant: TenantKeys, repo: Path, tmp_path: Path
    ) -> None:
        (repo / "NOTES.md").write_text("uncommitted note\n")  # dirty state goes into the copy
        response = await _start(
            client, tenant, run_body(repo, script_agent(tmp_path, FIXING_AGENT))
        )
        assert response.status_code == 202
        accepted = response.json()
        assert accepted["status"] == "queued"
        assert accepted["links"]["stream"] == (
            f"/api/v1/autonomy/streaming/{accepted['session_id']}/events"
        )
        run = await wait_for_end(client, tenant, accepted["run_id"])
        assert (run["status"], run["status_reason"]) == ("succeeded", "gates_passed")
        assert [(g["name"], g["verdict"]) for g in run["gate_verdicts"]] == [("tests", "passed")]
        assert run["agent_exit_code"] == 0
        assert run["budget_used_seconds"] > 0
        assert run["isolation"]["kind"] in {"bwrap", "process-group"}
        # The original checkout is untouched: the run worked on its own copy.
        assert "a - b" in (repo / "calc.py").read_text()
        assert git(repo, "status", "--porcelain").strip() == "?? NOTES.md"
        events = (
            await client.get(f"{RUNS}/{run['id']}/events", headers=tenant.headers(Role.viewer))
        ).json()["items"]
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(1, len(seqs) + 1))
        types = [e["type"] for e in events]
        assert types[0] == "run.queued" and types[-1] == "run.finished"
        assert (
            types.index("agent.output") < types.index("gate.started") < types.index("gate.finished")
        )
        output = "".join(e["data"]["text"] for e in events if e["type"] == "agent.output")
        assert "fixed calc.py" in output and "a warning" in output

    async def test_patch_is_the_agents_change(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        tenant: TenantKeys,
        repo: Path,
        tmp_path: Path,
    ) -> None:
        body = run_body(repo, script_agent(tmp_path, FIXING_AGENT), gates=[])
        run = await wait_for_end(
            client, tenant, (await _start(client, tenant, body)).json()["run_id"]
        )
        assert (run["status"], run["status_reason"]) == ("succeeded", "no_gates")
        assert run["gate_verdicts"] == []
        from midcore.runs.models import Run

        async with app.state.db.session() as session:
            stored = await session.get(Run, run["id"])
            assert stored is not None and stored.patch is not None
        assert "-    return a - b" in stored.patch and "+    return a + b" in stored.patch
        import hashlib

        assert hashlib.sha256(stored.patch.encode()).hexdigest() == run["patch_sha256"]
        served = await client.get(f"{RUNS}/{run['id']}/patch", headers=tenant.headers(Role.viewer))
        assert served.status_code == 200
        assert served.headers["content-type"].startswith("text/x-diff")
        assert served.headers["x-patch-sha256"] == run["patch_sha256"]
        assert served.text == stored.patch
        # It applies to the workspace the run started from.
        (tmp_path / "result.patch").write_text(served.text)
        git(repo, "apply", str(tmp_path / "result.patch"))
        assert "a + b" in (repo / "calc.py").read_text()

    async def test_patch_of_a_queued_run_is_not_there_yet(
        self, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys, repo: Path
    ) -> None:
        run_id = (await _start(client, tenant, run_body(repo, ["sleep", "5"], gates=[]))).json()[
            "run_id"
        ]
        early = await client.get(f"{RUNS}/{run_id}/patch", headers=tenant.headers())
        assert_problem(early, 404, "patch_not_available")
        theirs = await client.get(f"{RUNS}/{run_id}/patch", headers=other_tenant.headers())
        assert_problem(theirs, 404, "run_not_found")
        await client.post(f"{RUNS}/{run_id}/cancel", headers=tenant.headers(Role.operator))

    async def test_failing_agent_fails_the_run(
        self, client: httpx.AsyncClient, tenant: TenantKeys, repo: Path
    ) -> None:
        body = run_body(repo, ["sh", "-c", "echo broken >&2; exit 3"])
        run = await wait_for_end(
            client, tenant, (await _start(client, tenant, body)).json()["run_id"]
        )
        assert (run["status"], run["status_reason"]) == ("failed", "agent_failed: exit code 3")

    async def test_gate_failure_is_the_reason(
        self, client: httpx.AsyncClient, tenant: TenantKeys, repo: Path
    ) -> None:
        run = await wait_for_end(
            client,
            tenant,
            (await _start(client, tenant, run_body(repo, ["true"]))).json()["run_id"],
        )
        assert (run["status"], run["status_reason"]) == ("failed", "gate_failed:tests")

    async def test_unknown_gate_is_refused_before_the_agent_runs(
        self, client: httpx.AsyncClient, tenant: TenantKeys, repo: Path
    ) -> None:
        body = run_body(repo, ["true"], gates=["tests", "nope"])
        problem = assert_problem(await _start(client, tenant, body), 422, "validation_failed")
        assert "unknown gate 'nope'" in str(problem["detail"])
        assert "tests" in str(problem["detail"])

    async def test_git_url_workspace(
        self, client: httpx.AsyncClient, tenant: TenantKeys, repo: Path, tmp_path: Path
    ) -> None:
        git(repo, "checkout", "-q", "-b", "feature")
        (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
        git(repo, "commit", "-qam", "fix on a branch")
        git(repo, "checkout", "-q", "main")
        body = run_body(repo, ["true"], gates=["tests"])
        body["workspace"] = {"git": f"file://{repo}", "ref": "feature"}
        run = await wait_for_end(
            client, tenant, (await _start(client, tenant, body)).json()["run_id"]
        )
        assert (run["status"], run["status_reason"]) == ("succeeded", "gates_passed")
        body["workspace"] = {"git": f"file://{repo}", "ref": "no-such-branch"}
        run = await wait_for_end(
            client, tenant, (await _start(client, tenant, body)).json()["run_id"]
        )
        assert run["status"] == "error"
        assert "no-such-branch" in run["status_reason"]


class TestIdempotency:
    async def test_same_key_same_body_is_the_same_run(
        self, client: httpx.AsyncClient, tenant: TenantKeys, repo: Path
    ) -> None:
        body = run_body(repo, ["true"], gates=[])
        first = await _start(client, tenant, body, **{"Idempotency-Key": "k-1"})
        second = await _start(client, tenant, body, **{"Idempotency-Key": "k-1"})
        assert (first.status_code, second.status_code) == (202, 200)
        assert first.json()["run_id"] == second.json()["run_id"]
        other = await _start(
            client, tenant, body | {"task": "another"}, **{"Idempotency-Key": "k-1"}
        )
        assert_problem(other, 409, "idempotency_key_reused")
        listed = (await client.get(RUNS, headers=tenant.headers())).json()["items"]
        assert len(listed) == 1

    async def test_concurrent_requests_with_one_key_start_one_run(
        self, client: httpx.AsyncClient, tenant: TenantKeys, repo: Path
    ) -> None:
        body = run_body(repo, ["true"], gates=[])
        responses = await asyncio.gather(
            *[_start(client, tenant, body, **{"Idempotency-Key": "same"}) for _ in range(8)]
        )
        assert {r.status_code for r in responses} <= {200, 202}
        assert len({r.json()["run_id"] for r in responses}) == 1

    async def test_keys_are_per_tenant(
        self, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys, repo: Path
    ) -> None:
        body = run_body(repo, ["true"], gates=[])
        mine = await _start(client, tenant, body, **{"Idempotency-Key": "shared"})
        theirs = await _start(client, other_tenant, body, **{"Idempotency-Key": "shared"})
        assert mine.json()["run_id"] != theirs.json()["run_id"]


class TestBudget:
    @pytest.mark.parametrize("agent", [SLEEPING_AGENT, STUBBORN_AGENT], ids=["sleeps", "forks"])
    async def test_budget_ends_the_run_and_every_process(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        tenant: TenantKeys,
        repo: Path,
        tmp_path: Path,
        agent: str,
    ) -> None:
        command = script_agent(tmp_path, agent)
        body = run_body(repo, command, budget_seconds=2)
        run_id = (await _start(client, tenant, body)).json()["run_id"]
        await _pids_from(app.state.executor.run_dir(run_id) / "work" / "pids")
        assert _survivors(command[1]), "the agent should be running now"
        run = await wait_for_end(client, tenant, run_id, seconds=60)
        assert (run["status"], run["status_reason"]) == ("timed_out", "budget_exceeded")
        assert run["budget_used_seconds"] < 2 + 10
        # What the agent produced before the end is still recorded: its pid file is in the patch.
        assert run["patch_sha256"] is not None
        assert _survivors(command[1]) == []


class TestCancel:
    async def test_cancel_running_run(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        tenant: TenantKeys,
        repo: Path,
        tmp_path: Path,
    ) -> None:
        command = script_agent(tmp_path, STUBBORN_AGENT)
        body = run_body(repo, command, budget_seconds=300)
        run_id = (await _start(client, tenant, body)).json()["run_id"]
        await _pids_from(app.state.executor.run_dir(run_id) / "work" / "pids")
        assert len(_survivors(command[1])) >= 4
        response = await client.post(
            f"{RUNS}/{run_id}/cancel", headers=tenant.headers(Role.operator)
        )
        assert response.status_code == 200
        assert response.json()["status"] == "cancelling"
        again = await client.post(f"{RUNS}/{run_id}/cancel", headers=tenant.headers(Role.operator))
        # Twice: still cancelling answers 200; already cancelled is a finished run, a 409.
        if again.status_code == 200:
            assert again.json()["status"] == "cancelling"
        else:
            assert "already finished: cancelled" in str(assert_problem(again, 409, "run_finished"))
        run = await wait_for_end(client, tenant, run_id, seconds=60)
        assert (run["status"], run["status_reason"]) == ("cancelled", "cancelled")
        assert run["cancel_requested_at"] is not None
        assert _survivors(command[1]) == []
        after = await client.post(f"{RUNS}/{run_id}/cancel", headers=tenant.headers(Role.operator))
        problem = assert_problem(after, 409, "run_finished")
        assert "cancelled" in str(problem["detail"])
        events = (await client.get(f"{RUNS}/{run_id}/events", headers=tenant.headers())).json()
        states = [e["data"]["to"] for e in events["items"] if e["type"] == "run.state"]
        assert states == ["running", "cancelling", "cancelled"]

    async def test_cancel_queued_run(
        self,
        settings: Settings,
        tenant_app_client: tuple[httpx.AsyncClient, TenantKeys],
        repo: Path,
        tmp_path: Path,
    ) -> None:
        client, tenant = tenant_app_client
        blocker = run_body(repo, script_agent(tmp_path, SLEEPING_AGENT), budget_seconds=300)
        first = (await _start(client, tenant, blocker)).json()["run_id"]
        await wait_for_status(client, tenant, first, "running")
        second = (await _start(client, tenant, run_body(repo, ["true"], gates=[]))).json()["run_id"]
        await asyncio.sleep(0.3)
        queued = (await client.get(f"{RUNS}/{second}", headers=tenant.headers())).json()
        assert queued["status"] == "queued"  # one slot, taken by the first run
        response = await client.post(f"{RUNS}/{second}", headers=tenant.headers())
        assert response.status_code == 405
        cancelled = await client.post(
            f"{RUNS}/{second}/cancel", headers=tenant.headers(Role.operator)
        )
        assert cancelled.json()["status"] == "cancelled"
        await client.post(f"{RUNS}/{first}/cancel", headers=tenant.headers(Role.operator))
        assert (await wait_for_end(client, tenant, first))["status"] == "cancelled"
        # The cancelled run never started, even now that the slot is free.
        await asyncio.sleep(0.5)
        final = (await client.get(f"{RUNS}/{second}", headers=tenant.headers())).json()
        assert (final["status"], final["started_at"]) == ("cancelled", None)

    async def test_cancel_permissions_and_tenants(
        self, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys, repo: Path
    ) -> None:
        run_id = (await _start(client, tenant, run_body(repo, ["true"], gates=[]))).json()["run_id"]
        path = f"{RUNS}/{run_id}/cancel"
        assert_problem(await client.post(path), 401, "authentication_required")
        assert_problem(
            await client.post(path, headers=tenant.headers(Role.viewer)), 403, "permission_denied"
        )
        assert_problem(
            await client.post(path, headers=other_tenant.headers()), 404, "run_not_found"
        )


class TestReading:
    async def test_other_tenant_sees_nothing(
        self, client: httpx.AsyncClient, tenant: TenantKeys, other_tenant: TenantKeys, repo: Path
    ) -> None:
        accepted = (await _start(client, tenant, run_body(repo, ["true"], gates=[]))).json()
        await wait_for_end(client, tenant, accepted["run_id"])
        theirs = other_tenant.headers()
        assert_problem(
            await client.get(f"{RUNS}/{accepted['run_id']}", headers=theirs), 404, "run_not_found"
        )
        assert_problem(
            await client.get(f"{RUNS}/{accepted['run_id']}/events", headers=theirs),
            404,
            "run_not_found",
        )
        stream = f"/api/v1/autonomy/streaming/{accepted['session_id']}/events"
        assert_problem(await client.get(stream, headers=theirs), 404, "session_not_found")
        assert (await client.get(RUNS, headers=theirs)).json()["items"] == []

    async def test_list_filters_and_pages(
        self, client: httpx.AsyncClient, tenant: TenantKeys, repo: Path
    ) -> None:
        ids = []
        for _ in range(3):
            ids.append(
                (await _start(client, tenant, run_body(repo, ["true"], gates=[]))).json()["run_id"]
            )
        for run_id in ids:
            await wait_for_end(client, tenant, run_id)
        failing = (await _start(client, tenant, run_body(repo, ["false"], gates=[]))).json()[
            "run_id"
        ]
        await wait_for_end(client, tenant, failing)
        page = (await client.get(RUNS, params={"limit": 2}, headers=tenant.headers())).json()
        assert [r["id"] for r in page["items"]] == [failing, ids[2]]
        rest = (
            await client.get(
                RUNS, params={"limit": 2, "cursor": page["next_cursor"]}, headers=tenant.headers()
            )
        ).json()
        assert [r["id"] for r in rest["items"]] == [ids[1], ids[0]]
        assert rest["next_cursor"] is None
        failed = (
            await client.get(RUNS, params={"status": "failed"}, headers=tenant.headers())
        ).json()
        assert [r["id"] for r in failed["items"]] == [failing]
        bad = await client.get(RUNS, params={"status": "sleeping"}, headers=tenant.headers())
        assert_problem(bad, 422, "validation_failed")

    async def test_events_catch_up_after_a_seq(
        self, client: httpx.AsyncClient, tenant: TenantKeys, repo: Path
    ) -> None:
        run_id = (await _start(client, tenant, run_body(repo, ["true"], gates=[]))).json()["run_id"]
        await wait_for_end(client, tenant, run_id)
        everything = (await client.get(f"{RUNS}/{run_id}/events", headers=tenant.headers())).json()
        later = (
            await client.get(
                f"{RUNS}/{run_id}/events", params={"after": 2, "limit": 2}, headers=tenant.headers()
            )
        ).json()
        assert [e["seq"] for e in later["items"]] == [3, 4]
        assert later["next_cursor"] == "4"
        assert [e["seq"] for e in everything["items"]][2:4] == [3, 4]

    async def test_agent_env_is_not_shown(
        self, client: httpx.AsyncClient, tenant: TenantKeys, repo: Path
    ) -> None:
        body = run_body(repo, ["true"], gates=[])
        body["agent"]["env"] = {"TOKEN": "hunter2"}
        run_id = (await _start(client, tenant, body)).json()["run_id"]
        shown = await client.get(f"{RUNS}/{run_id}", headers=tenant.headers())
        assert "hunter2" not in shown.text


class TestOutput:
    async def test_output_beyond_the_cap_is_kept_and_said(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        tenant: TenantKeys,
        repo: Path,
        tmp_path: Path,
    ) -> None:
        loud = "import sys\nfor i in range(40000):\n    print('x' * 40, i)\n"
        run_id = (
            await _start(client, tenant, run_body(repo, script_agent(tmp_path, loud), gates=[]))
        ).json()["run_id"]
        run = await wait_for_end(client, tenant, run_id)
        assert run["status"] == "succeeded"
        events, after = [], 0
        while True:
            page = (
                await client.get(
                    f"{RUNS}/{run_id}/events",
                    params={"after": after, "limit": 200},
                    headers=tenant.headers(),
                )
            ).json()
            events += page["items"]
            if page["next_cursor"] is None:
                break
            after = int(page["next_cursor"])
        shown = [e for e in events if e["type"] == "agent.output"]
        assert shown[-1]["data"].get("truncated") is True
        assert sum(len(e["data"]["text"]) for e in shown[:-1]) <= 1024 * 1024
        log = app.state.executor.run_dir(run_id) / "agent-output.log"
        assert log.read_text().count("\n") == 40000
        import hashlib

        assert hashlib.sha256(log.read_bytes()).hexdigest() == run["transcript_sha256"]


class TestCancelRace:
    async def test_cancel_right_after_start_always_lands(
        self, client: httpx.AsyncClient, tenant: TenantKeys, repo: Path
    ) -> None:
        # The executor claims the run while the cancel is on its way: either way, one answer.
        for _ in range(8):
            body = run_body(repo, ["sleep", "30"], gates=[])
            run_id = (await _start(client, tenant, body)).json()["run_id"]
            response = await client.post(
                f"{RUNS}/{run_id}/cancel", headers=tenant.headers(Role.operator)
            )
            assert response.status_code == 200, response.text
            assert response.json()["status"] in {"cancelled", "cancelling"}
            run = await wait_for_end(client, tenant, run_id)
            assert run["status"] == "cancelled"
