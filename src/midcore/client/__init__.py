"""Python client of a Midcore server: `Midcore` (blocking) and `AsyncMidcore` (asyncio).

It imports nothing else from `midcore`, so it can be shipped on its own.

    from midcore.client import Midcore

    with Midcore() as client:  # MIDCORE_URL and MIDCORE_API_KEY
        accepted = client.runs.create("fix the test", "/srv/repos/app", ["my-agent", "{task}"])
        for event in client.runs.stream(accepted.session_id):
            print(event.type)
"""

from __future__ import annotations

__version__ = "0.1.0"

from midcore.client._async import AsyncMidcore
from midcore.client._sync import Midcore
from midcore.client.errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectionError,
    MidcoreError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TimeoutError,
    UnprocessableEntityError,
)
from midcore.client.models import (
    TERMINAL_STATUSES,
    AgentOutputEvent,
    AnyEvent,
    CommandAgent,
    Event,
    GateFinishedEvent,
    GateStartedEvent,
    GitWorkspace,
    PathWorkspace,
    Run,
    RunAccepted,
    RunFinishedEvent,
    RunStateEvent,
)

__all__ = [
    "TERMINAL_STATUSES",
    "APIStatusError",
    "AgentOutputEvent",
    "AnyEvent",
    "AsyncMidcore",
    "AuthenticationError",
    "BadRequestError",
    "CommandAgent",
    "ConflictError",
    "ConnectionError",
    "Event",
    "GateFinishedEvent",
    "GateStartedEvent",
    "GitWorkspace",
    "Midcore",
    "MidcoreError",
    "NotFoundError",
    "PathWorkspace",
    "PermissionDeniedError",
    "RateLimitError",
    "Run",
    "RunAccepted",
    "RunFinishedEvent",
    "RunStateEvent",
    "ServerError",
    "TimeoutError",
    "UnprocessableEntityError",
]
