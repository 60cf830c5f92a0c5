"""What the sync and async clients share: settings, retry policy, error mapping, SSE parsing."""

from __future__ import annotations

import email.utils
import json
import os
import random
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import httpx
from pydantic import BaseModel

from midcore.client.errors import APIStatusError, MidcoreError, error_for

API = "/api/v1"
AUTONOMY = "/api/v1/autonomy"
DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 2
# A dropped stream reconnects this many times in a row without receiving an event before giving up.
DEFAULT_STREAM_RECONNECTS = 8
_MAX_BACKOFF_SECONDS = 8.0
_MAX_RETRY_AFTER_SECONDS = 60.0


class Retry(Enum):
    """Which failures a call may be sent again after."""

    # Safe to repeat: reads, cancels, and creates that carry an Idempotency-Key.
    IDEMPOTENT = "idempotent"
    # Repeating could do the work twice: only when the server surely never got it (no connection,
    # or it refused with 429 before doing anything).
    UNSENT_ONLY = "unsent_only"


@dataclass
class Call:
    method: str
    path: str
    retry: Retry
    params: dict[str, Any] | None = None
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    files: dict[str, Any] | None = None
    data: dict[str, Any] | None = None


def resolve_settings(base_url: str | None, api_key: str | None) -> tuple[str, str | None]:
    url = base_url or os.environ.get("MIDCORE_URL") or DEFAULT_URL
    key = api_key if api_key is not None else os.environ.get("MIDCORE_API_KEY")
    return url.rstrip("/"), key or None


def default_headers(api_key: str | None) -> dict[str, str]:
    from midcore.client import __version__

    headers = {"Accept": "application/json", "User-Agent": f"midcore-client/{__version__}"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def new_idempotency_key() -> str:
    return f"mc-{uuid.uuid4()}"


def clean_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """Retry-After as seconds (a number or an HTTP date), or None when absent or unreadable."""
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential with jitter; a server's Retry-After wins (capped, so a typo cannot hang us)."""
    if retry_after is not None:
        return min(retry_after, _MAX_RETRY_AFTER_SECONDS)
    base: float = min(_MAX_BACKOFF_SECONDS, 0.25 * 2**attempt)
    return base / 2 + random.uniform(0, base / 2)  # noqa: S311 - jitter, not security


def should_retry_status(status: int, retry: Retry) -> bool:
    if status == 429:
        return True
    return status >= 500 and retry is Retry.IDEMPOTENT


def should_retry_transport(exc: httpx.TransportError, retry: Retry) -> bool:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return True  # the request never left
    return retry is Retry.IDEMPOTENT


def error_from_response(response: httpx.Response) -> APIStatusError:
    """The typed error for an error response (whose body has been read)."""
    try:
        problem = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        problem = None
    if not isinstance(problem, dict):
        text = response.text.strip()
        problem = {"title": response.reason_phrase, "detail": text[:500] or None}
    headers = {k.lower(): v for k, v in response.headers.items()}
    return error_for(response.status_code, problem, headers, retry_after_seconds(response.headers))


def transport_error(exc: httpx.TransportError) -> MidcoreError:
    from midcore.client.errors import ConnectionError, TimeoutError

    if isinstance(exc, httpx.TimeoutException):
        return TimeoutError(f"no answer in time: {exc}")
    return ConnectionError(f"cannot reach the server: {exc}" if str(exc) else type(exc).__name__)


@dataclass
class SSEMessage:
    id: str | None
    event: str | None
    data: str


class SSELines:
    """Splits streamed text into lines at \n, \r or \r\n only, as SSE says.

    (httpx's line iterator also splits at characters such as U+2028, which may be inside data.)
    """

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        lines: list[str] = []
        while True:
            cut = min((i for i in (self._buffer.find("\n"), self._buffer.find("\r")) if i >= 0),
                      default=-1)  # fmt: skip
            if cut < 0:
                return lines
            if self._buffer[cut] == "\r" and cut == len(self._buffer) - 1:
                return lines  # a \r\n may be split across chunks: wait for the next one
            lines.append(self._buffer[:cut])
            skip = 2 if self._buffer.startswith("\r\n", cut) else 1
            self._buffer = self._buffer[cut + skip :]


class SSEDecoder:
    """Turns text/event-stream lines into messages; comments (keepalives) are dropped."""

    def __init__(self) -> None:
        self._id: str | None = None
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, line: str) -> SSEMessage | None:
        if line == "":
            if not self._data and self._event is None:
                return None
            message = SSEMessage(self._id, self._event, "\n".join(self._data))
            self._event, self._data = None, []
            return message
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def messages(self, lines: Iterable[str]) -> Iterator[SSEMessage]:
        for line in lines:
            message = self.feed(line)
            if message is not None:
                yield message

    def messages_from_text(self, chunks: Iterable[str]) -> Iterator[SSEMessage]:
        splitter = SSELines()
        for chunk in chunks:
            yield from self.messages(splitter.feed(chunk))


def stream_headers(last_seq: int) -> dict[str, str]:
    headers = {"Accept": "text/event-stream"}
    if last_seq:
        headers["Last-Event-ID"] = str(last_seq)
    return headers


def event_payload(message: SSEMessage) -> dict[str, Any] | None:
    if not message.data:
        return None
    payload = json.loads(message.data)
    return payload if isinstance(payload, dict) else None


def as_workspace(workspace: str | os.PathLike[str] | dict[str, Any] | BaseModel) -> dict[str, Any]:
    if isinstance(workspace, BaseModel):
        return workspace.model_dump(exclude_none=True)
    if isinstance(workspace, dict):
        return workspace
    return {"path": os.fspath(workspace)}


def as_agent(agent: list[str] | dict[str, Any] | BaseModel) -> dict[str, Any]:
    if isinstance(agent, BaseModel):
        return agent.model_dump(exclude_none=True)
    if isinstance(agent, dict):
        return agent
    return {"kind": "command", "command": list(agent)}


def is_dropped(exc: Exception) -> bool:
    """A stream failure after which reopening it may work: a broken connection or a 429/5xx."""
    from midcore.client.errors import APIStatusError, RateLimitError, ServerError

    if isinstance(exc, RateLimitError | ServerError):
        return True
    return not isinstance(exc, APIStatusError)
