"""Typed errors: one class per problem+json status, and the two ways a call gets no answer."""

from __future__ import annotations

import builtins
from typing import Any


class MidcoreError(Exception):
    """Base of every error the client raises."""


class ConnectionError(MidcoreError, builtins.ConnectionError):
    """The server could not be reached, or the connection broke before an answer."""


class TimeoutError(ConnectionError, builtins.TimeoutError):
    """No answer within the client's timeout."""


class APIStatusError(MidcoreError):
    """The server answered with an error status; its problem+json fields are attributes."""

    def __init__(
        self,
        status: int,
        problem: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.problem = problem
        self.headers = headers or {}
        self.code: str | None = _str_or_none(problem.get("code"))
        self.title: str | None = _str_or_none(problem.get("title"))
        self.detail: str | None = _str_or_none(problem.get("detail"))
        self.request_id: str | None = _str_or_none(problem.get("request_id")) or self.headers.get(
            "x-request-id"
        )
        self.errors: list[dict[str, Any]] = list(problem.get("errors") or [])
        super().__init__(self.detail or self.title or f"HTTP {status}")

    def __str__(self) -> str:
        message = self.detail or self.title or "error"
        return f"{message} (HTTP {self.status}, {self.code or 'no code'})"


class BadRequestError(APIStatusError):
    """400, or another 4xx without a class of its own."""


class AuthenticationError(APIStatusError):
    """401: no API key, or one that is unknown, expired or revoked."""


class PermissionDeniedError(APIStatusError):
    """403: the key's role does not allow this."""


class NotFoundError(APIStatusError):
    """404: no such object in this tenant."""


class ConflictError(APIStatusError):
    """409: e.g. an Idempotency-Key reused with another body."""


class UnprocessableEntityError(APIStatusError):
    """422: the request is not valid; `errors` lists the fields."""


class RateLimitError(APIStatusError):
    """429: slow down; `retry_after` is the wait in seconds the server asked for, if any."""

    def __init__(
        self,
        status: int,
        problem: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, problem, headers=headers)
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx: the server failed."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
}


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def error_for(
    status: int,
    problem: dict[str, Any],
    headers: dict[str, str],
    retry_after: float | None,
) -> APIStatusError:
    if status == 429:
        return RateLimitError(status, problem, headers=headers, retry_after=retry_after)
    if status >= 500:
        return ServerError(status, problem, headers=headers)
    return _BY_STATUS.get(status, BadRequestError)(status, problem, headers=headers)
