"""The blocking client's runs resource against a real server."""

from __future__ import annotations

import threading

import pytest

from midcore.client import (
    AgentOutputEvent,
    CommandAgent,
    ConflictError,
    GateFinishedEvent,
    GateStartedEvent,
    GitWorkspace,
    Midcore,
    PathWorkspace,
    RunFinishedEvent,
    RunStateEvent,
)
from tests.client.fixtures import Served
from tests.client.proxy import Proxy
from tests.runs.conftest import FIXING_AGENT


def test_create_stream_and_read_a_run(served: Served) -> None:
    with served.client() as client:
        accepted = client.runs.create(
            "make the failing test pass",
            served.repo(),
            served.agent(FIXING_AGENT, "{task}"),
            budget_seconds=120,
            metadata={"ticket": "T-1"},
        )
        assert accepted.status == "queued"
        events = list(client.runs.stream(accepted.session_id))
        run = client.runs.get(accepted.run_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "run.queued"
    assert any(isinstance(e, RunStateEvent) and e.data.to == "running" for e in events)
    output = "".join(e.data.text for e in events if isinstance(e, AgentOutputEvent))
    assert "fixed calc.py\n" in output
    started = [e.data.gate for e in events if isinstance(e, GateStartedEvent)]
    finished = [e.data for e in events if isinstance(e, GateFinishedEvent)]
    assert started == ["tests"]
    assert [(g.name, g.verdict, g.required) for g in finished] == [("tests", "passed", True)]
    last = events[-1]
    assert isinstance(last, RunFinishedEvent)
    assert (last.data.status, last.data.status_reason) == ("succeeded", "gates_passed")
    assert run.id == accepted.run_id and run.status == "succeeded" and run.is_finished
    assert run.metadata == {"ticket": "T-1"}
    assert run.patch_sha256 == last.data.patch_sha256
    assert [v.verdict for v in run.gate_verdicts] == ["passed"]


def test_events_catch_up_matches_the_stream(served: Served) -> None:
    with served.client() as client:
        accepted = client.runs.create("tick", served.repo(), ["true"], gates=[])
        streamed = list(client.runs.stream(accepted.session_id))
        caught_up = list(client.runs.events(accepted.run_id, page_size=2))
        tail = list(client.runs.events(accepted.run_id, after=len(streamed) - 1))
        resumed = list(client.runs.stream(accepted.session_id, after=2))
    assert [e.model_dump() for e in caught_up] == [e.model_dump() for e in streamed]
    assert [e.seq for e in tail] == [len(streamed)]
    assert [e.seq for e in resumed] == [e.seq for e in streamed[2:]]


def test_list_walks_every_page(served: Served) -> None:
    with served.client() as client:
        repo = served.repo()
        created = [client.runs.create(f"t{i}", repo, ["true"], gates=[]).run_id for i in range(5)]
        for run_id in created:
            list(client.runs.stream(client.runs.get(run_id).session_id))
        listed = [run.id for run in client.runs.list(page_size=2)]
        succeeded = [run.id for run in client.runs.list(status="succeeded", page_size=2)]
    # Newest first; other tests' runs on this server come after or before, never in between.
    assert [run_id for run_id in listed if run_id in created] == created[::-1]
    assert set(created) <= set(succeeded)
    assert len(listed) == len(set(listed))


def test_cancel_a_running_run(served: Served) -> None:
    command, _release = served.gated_agent()  # never released: only a cancel ends it
    with served.client() as client:
        accepted = client.runs.create("wait", served.repo(), command, gates=[])
        events = client.runs.stream(accepted.session_id)
        for event in events:
            if isinstance(event, AgentOutputEvent):
                break
        cancelled = client.runs.cancel(accepted.run_id)
        assert cancelled.cancel_requested_at is not None
        rest = list(events)
        with pytest.raises(ConflictError) as raised:
            client.runs.cancel(accepted.run_id)
    last = rest[-1]
    assert isinstance(last, RunFinishedEvent) and last.data.status == "cancelled"
    assert raised.value.status == 409 and raised.value.code == "run_finished"


def test_the_stream_survives_a_dropped_connection(served: Served, proxy: Proxy) -> None:
    command, release = served.gated_agent()
    with Midcore(proxy.url, served.key) as client:
        accepted = client.runs.create("tick", served.repo(), command, gates=[])
        received = []
        text = ""
        connections_before = None
        cut_at = 0
        reconnects: list[int] = []
        stream = client.runs.stream(
            accepted.session_id, on_reconnect=lambda seq, _failure: reconnects.append(seq)
        )
        for event in stream:
            received.append(event)
            if isinstance(event, AgentOutputEvent):
                text += event.data.text
            if connections_before is None and "tick 4\n" in text:
                # The agent now waits for the release file, so the run is surely still going.
                connections_before = proxy.connections
                cut_at = event.seq
                proxy.cut()
                release.touch()
        logged = list(client.runs.events(accepted.run_id))
    assert connections_before is not None
    assert proxy.connections > connections_before  # it did reconnect
    # Nothing new was sent between the cut and the release, so it resumed right after the cut.
    assert reconnects[:1] == [cut_at]
    assert [e.seq for e in received] == [e.seq for e in logged]
    assert [e.seq for e in received] == list(range(1, len(received) + 1))
    ticks = "".join(e.data.text for e in received if isinstance(e, AgentOutputEvent))
    assert ticks == "".join(f"tick {i}\n" for i in range(10))
    assert isinstance(received[-1], RunFinishedEvent)
    assert received[-1].data.status == "succeeded"


def test_the_stream_goes_on_after_an_intermediary_ends_it_early(
    served: Served, proxy: Proxy
) -> None:
    command, release = served.gated_agent()
    with Midcore(proxy.url, served.key) as client:
        accepted = client.runs.create("tick", served.repo(), command, gates=[])
        received = []
        text = ""
        for event in client.runs.stream(accepted.session_id):
            received.append(event)
            if isinstance(event, AgentOutputEvent):
                text += event.data.text
            if not release.exists() and "tick 4\n" in text:
                proxy.end_streams_cleanly()  # a complete, well-formed end of the answer
                release.touch()
    assert [e.seq for e in received] == list(range(1, len(received) + 1))
    assert isinstance(received[-1], RunFinishedEvent)
    ticks = "".join(e.data.text for e in received if isinstance(e, AgentOutputEvent))
    assert ticks == "".join(f"tick {i}\n" for i in range(10))


def test_a_retried_create_after_a_lost_answer_starts_one_run(served: Served, proxy: Proxy) -> None:
    repo = served.repo()
    with Midcore(proxy.url, served.key) as client:
        proxy.drop_next_response()
        accepted = client.runs.create("once", repo, ["true"], gates=[])
        list(client.runs.stream(accepted.session_id))
    assert proxy.responses_dropped == 1
    with served.client() as client:
        runs = [run for run in client.runs.list() if run.workspace.get("path") == str(repo)]
    assert [run.id for run in runs] == [accepted.run_id]


def test_the_same_idempotency_key_returns_the_same_run(served: Served) -> None:
    repo = served.repo()
    with served.client() as client:
        first = client.runs.create("same", repo, ["true"], gates=[], idempotency_key="k-same-1")
        second = client.runs.create("same", repo, ["true"], gates=[], idempotency_key="k-same-1")
        list(client.runs.stream(first.session_id))
    assert second.run_id == first.run_id


def test_many_threads_share_one_client(served: Served) -> None:
    with served.client() as client:
        accepted = client.runs.create("tick", served.repo(), ["true"], gates=[])
        seen: list[list[int]] = []

        def follow() -> None:
            seen.append([e.seq for e in client.runs.stream(accepted.session_id)])

        threads = [threading.Thread(target=follow) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert len(seen) == 3 and seen[0] == seen[1] == seen[2]


def test_typed_requests_path_and_git_workspaces(served: Served) -> None:
    printing = served.agent(
        "import os, pathlib; print(os.environ['GREETING'], sorted(p.name for p in "
        "pathlib.Path('.').glob('*.py')))",
        name="env-agent.py",
    )
    repo = served.repo()
    with served.client() as client:
        outputs = []
        for workspace in (PathWorkspace(path=str(repo)), GitWorkspace(git=f"file://{repo}")):
            accepted = client.runs.create(
                "greet",
                workspace,
                CommandAgent(command=printing, env={"GREETING": "hello"}),
                gates=[],
            )
            events = list(client.runs.stream(accepted.session_id))
            outputs.append("".join(e.data.text for e in events if isinstance(e, AgentOutputEvent)))
            run = client.runs.get(accepted.run_id)
            assert run.status == "succeeded", run.status_reason
            assert "env" not in run.agent  # the server never shows the agent's environment
    assert outputs == ["hello ['calc.py', 'test_calc.py']\n"] * 2
