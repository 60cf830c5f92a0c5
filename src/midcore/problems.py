"""RFC 9457 problem+json: the one shape every error takes on the way out."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from midcore.errors import MidcoreError
from midcore.middleware import current_request_id, is_denial_recorded

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://midcore.dev/problems/"

logger = logging.getLogger("midcore.errors")

_CODES_BY_STATUS = {
    400: "bad_request",
    401: "authentication_required",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


def problem_body(status: int, code: str, detail: str, title: str | None = None) -> dict[str, Any]:
    return {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": current_request_id(),
    }


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body = problem_body(status, code, detail, title)
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        errors.append(
            {
                "location": location[0] if location else "body",
                "field": ".".join(location[1:]),
                "message": error.get("msg", "invalid"),
                "type": error.get("type", "invalid"),
            }
        )
    return errors


async def _audit_denial(request: Request, exc: MidcoreError) -> None:
    """Every 401 and 403 is audited: those the auth layer did not record already (a service
    refusing a role change, say) are recorded here, in the caller's name when known."""
    if is_denial_recorded():
        return
    from midcore.audit.service import record_denial

    principal = getattr(request.state, "principal", None)
    try:
        await record_denial(
            request.app.state.db,
            principal,
            f"{request.method} {request.url.path}",
            outcome="denied" if exc.status == 403 else "unauthenticated",
            details={"reason": exc.detail, "code": exc.code},
            client_ip=request.client.host if request.client else None,
        )
    except Exception:  # the answer still goes out; the log says the audit failed
        logger.exception("could not audit a denial")


async def _midcore_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MidcoreError)
    if exc.status in (401, 403):
        await _audit_denial(request, exc)
    return problem_response(
        exc.status, exc.code, exc.detail, title=exc.title, headers=exc.headers, extra=exc.extra
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc)
    fields = ", ".join(sorted({e["field"] or e["location"] for e in errors}))
    return problem_response(
        422,
        "validation_failed",
        f"The request is not valid: {fields}." if fields else "The request is not valid.",
        title="Validation failed",
        extra={"errors": errors},
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODES_BY_STATUS.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(exc.status_code, code, detail, headers=dict(exc.headers or {}))


def install_handlers(app: FastAPI) -> None:
    """Known errors render here; anything unexpected is caught by the request middleware."""
    app.add_exception_handler(MidcoreError, _midcore_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An error, as RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code", "request_id"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "request_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "errors": {
            "type": "array",
            "description": "For validation problems: what is wrong, field by field.",
            "items": {
                "type": "object",
                "properties": {
                    "location": {"type": "string"},
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI schema say what the API does: every error is problem+json.

    FastAPI documents validation errors as its own JSON shape; here every 4xx/5xx (and a
    `default` for the statuses an operation does not list) points at the Problem schema.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = _PROBLEM_SCHEMA
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
            responses.setdefault(
                "default",
                {
                    "description": "An error, as RFC 9457 problem+json.",
                    "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
                },
            )
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install_openapi(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI caches the schema it generates; documenting it again changes nothing.
        return document_problems(generate())

    app.openapi = openapi  # type: ignore[method-assign]
