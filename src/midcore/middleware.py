"""Per-request context: the request id, Prometheus figures, and the last line against tracebacks."""

from __future__ import annotations

import json
import logging
import re
import time
from contextvars import ContextVar
from http import HTTPStatus

from fastapi import HTTPException
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from midcore.ids import new_id

logger = logging.getLogger("midcore.request")

_request_id: ContextVar[str | None] = ContextVar("midcore_request_id", default=None)
# A client may send its own id to correlate logs; anything else is replaced.
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def current_request_id() -> str | None:
    return _request_id.get()


# Per request: whether a denial (401/403) has been written to the audit trail yet. A mutable
# holder, so that a mark made anywhere in the request is seen by the error handler.
_denial_recorded: ContextVar[list[bool] | None] = ContextVar("midcore_denial", default=None)


def mark_denial_recorded() -> None:
    holder = _denial_recorded.get()
    if holder is not None:
        holder[0] = True


def is_denial_recorded() -> bool:
    holder = _denial_recorded.get()
    return bool(holder and holder[0])


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "midcore_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "midcore_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            registry=registry,
        )


class RequestContextMiddleware:
    """Sets X-Request-ID, records metrics, and turns an unexpected exception into a 500 problem."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied if _CLIENT_REQUEST_ID.match(supplied) else new_id()
        token = _request_id.set(request_id)
        denial_token = _denial_recorded.set([False])
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error (request_id=%s)", request_id)
            if not response_started:
                await _send_internal_error(send_with_id, request_id)
            status = 500
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
            _request_id.reset(token)
            _denial_recorded.reset(denial_token)


async def _send_internal_error(send: Send, request_id: str) -> None:
    await send_problem(
        send,
        500,
        "internal_error",
        "An unexpected error occurred; it has been logged with this request id.",
    )


async def send_problem(send: Send, status: int, code: str, detail: str) -> None:
    """A problem+json response sent straight from middleware (outside the app's handlers)."""
    body = json.dumps(
        {
            "type": f"https://midcore.dev/problems/{code}",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
            "code": code,
            "request_id": current_request_id(),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# The API serves JSON to scripts and to a web studio on its own origin: nothing may frame it,
# sniff it, or load it as a page with scripts. The docs pages load their scripts and styles.
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]
_API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DOCS_PATHS = ("/docs", "/redoc")
_HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


class SecurityHeadersMiddleware:
    """Adds the security headers to every response, errors included."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        extra = list(_SECURITY_HEADERS)
        if not path.startswith(_DOCS_PATHS):
            extra.append(_API_CSP)
        if self.hsts:
            extra.append(_HSTS)
        if path.startswith("/api/v1/auth"):
            # Answers about sign-in carry the CSRF token: never keep them in a cache.
            extra.append((b"cache-control", b"no-store"))
        names = {name for name, _ in extra}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_UPLOAD_TYPES = (b"multipart/", b"audio/", b"application/octet-stream")


class _BodyTooLarge(HTTPException):
    """Raised from `receive`: FastAPI re-raises HTTPExceptions met while reading a body, so the
    app's handler renders it as problem+json (any other exception would become a 400)."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail)


class BodySizeLimitMiddleware:
    """Refuses bodies over the limit with 413: by Content-Length up front, else while reading.

    Uploads (multipart, audio, octet-stream) have their own, larger limit.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").lower()
        is_upload = content_type.startswith(_UPLOAD_TYPES)
        limit = self.max_upload_bytes if is_upload else self.max_body_bytes
        detail = f"the request body is larger than {limit} bytes"
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await send_problem(send, 400, "bad_request", "Content-Length is not a number")
                return
            if int(declared) > limit:
                await send_problem(send, 413, "payload_too_large", detail)
                return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(detail)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if response_started:
                raise
            await send_problem(send, 413, "payload_too_large", detail)
