"""`AsyncMidcore` against a real server: the same resources, awaited."""

from __future__ import annotations

import pytest

from midcore.client import (
    AgentOutputEvent,
    AsyncMidcore,
    AuthenticationError,
    NotFoundError,
    RunFinishedEvent,
    UnprocessableEntityError,
)
from tests.client.fixtures import Served
from tests.client.proxy import Proxy
from tests.runs.conftest import FIXING_AGENT


async def test_create_stream_get_list_events(served: Served) -> None:
    async with AsyncMidcore(served.url, served.key) as client:
        accepted = await client.runs.create(
            "fix", served.repo(), served.agent(FIXING_AGENT, "{task}", name="fix.py")
        )
        events = [event async for event in client.runs.stream(accepted.session_id)]
        run = await client.runs.get(accepted.run_id)
        listed = [r.id async for r in client.runs.list(page_size=1)]
        caught_up = [e async for e in client.runs.events(accepted.run_id, page_size=3)]
        me = await client.me()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    last = events[-1]
    assert isinstance(last, RunFinishedEvent) and last.data.status == "succeeded"
    assert run.status == "succeeded" and accepted.run_id in listed
    assert [e.seq for e in caught_up] == [e.seq for e in events]
    assert me.role == "owner"


async def test_the_stream_survives_a_dropped_connection(served: Served, proxy: Proxy) -> None:
    command, release = served.gated_agent()
    async with AsyncMidcore(proxy.url, served.key) as client:
        accepted = await client.runs.create("tick", served.repo(), command, gates=[])
        received = []
        text = ""
        cut = False
        async for event in client.runs.stream(accepted.session_id):
            received.append(event)
            if isinstance(event, AgentOutputEvent):
                text += event.data.text
            if not cut and "tick 4\n" in text:
                cut = True
                connections_before = proxy.connections
                proxy.cut()
                release.touch()
    assert cut and proxy.connections > connections_before
    assert [e.seq for e in received] == list(range(1, len(received) + 1))
    ticks = "".join(e.data.text for e in received if isinstance(e, AgentOutputEvent))
    assert ticks == "".join(f"tick {i}\n" for i in range(10))


async def test_a_retried_create_starts_one_run(served: Served, proxy: Proxy) -> None:
    repo = served.repo()
    async with AsyncMidcore(proxy.url, served.key) as client:
        proxy.drop_next_response()
        accepted = await client.runs.create("once", repo, ["true"], gates=[])
        [e async for e in client.runs.stream(accepted.session_id)]
        mine = [r.id async for r in client.runs.list() if r.workspace.get("path") == str(repo)]
    assert proxy.responses_dropped == 1 and mine == [accepted.run_id]


async def test_cancel_and_errors(served: Served) -> None:
    command, _release = served.gated_agent()
    async with AsyncMidcore(served.url, served.key) as client:
        accepted = await client.runs.create("wait", served.repo(), command, gates=[])
        cancelled = await client.runs.cancel(accepted.run_id)
        [e async for e in client.runs.stream(accepted.session_id)]
        assert cancelled.cancel_requested_at is not None or cancelled.status == "cancelled"
        assert (await client.runs.get(accepted.run_id)).status == "cancelled"
        with pytest.raises(NotFoundError):
            await client.runs.get("01nosuchrun")
        with pytest.raises(UnprocessableEntityError):
            await client.runs.create("x", served.repo(), ["true"], budget_seconds=0)
    async with AsyncMidcore(served.url, "mc_0_wrong") as anonymous:
        with pytest.raises(AuthenticationError):
            await anonymous.me()


async def test_access_resources(served: Served) -> None:
    async with AsyncMidcore(served.url, served.key) as client:
        created = await client.api_keys.create("async", "viewer")
        assert created.id in [k.id async for k in client.api_keys.list()]
        assert (await client.api_keys.revoke(created.id)).revoked_at is not None
        member = await client.members.add("cy@example.com", "viewer")
        assert (await client.members.update(member.user_id, role="operator")).role == "operator"
        assert member.user_id in [m.user_id async for m in client.members.list()]
        await client.members.remove(member.user_id)
