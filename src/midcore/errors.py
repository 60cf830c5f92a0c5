"""The exception tree. Code below the endpoints raises these; app.py renders them as RFC 9457."""

from __future__ import annotations

from typing import Any


class MidcoreError(Exception):
    status: int = 500
    code: str = "internal_error"
    title: str = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.detail)


class BadRequest(MidcoreError):
    status, code, title = 400, "bad_request", "Bad request"


class AuthenticationRequired(MidcoreError):
    status, code, title = 401, "authentication_required", "Authentication required"


class InvalidCredentials(AuthenticationRequired):
    code = "invalid_credentials"
    title = "Invalid credentials"


class PermissionDenied(MidcoreError):
    status, code, title = 403, "permission_denied", "Permission denied"


class NotFound(MidcoreError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(MidcoreError):
    status, code, title = 409, "conflict", "Conflict"


class PayloadTooLarge(MidcoreError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class UnsupportedMediaType(MidcoreError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class ValidationFailed(MidcoreError):
    status, code, title = 422, "validation_failed", "Validation failed"


class RateLimited(MidcoreError):
    status, code, title = 429, "rate_limited", "Too many requests"


class ServiceUnavailable(MidcoreError):
    status, code, title = 503, "service_unavailable", "Service unavailable"


class ConfigurationError(Exception):
    """Settings that cannot work; reported as one line at start-up."""
