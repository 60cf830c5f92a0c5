"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from midcore import migrations
from midcore.deps import DatabaseDep
from midcore.problems import problem_response

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(database: DatabaseDep) -> Response | dict[str, str]:
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        current = await migrations.current_revision(database.engine)
    except Exception as exc:  # any failure to reach the database means "not ready"
        return problem_response(503, "database_unavailable", f"database unreachable: {exc}")
    head = migrations.head_revision()
    if current != head:
        return problem_response(
            503,
            "migrations_pending",
            f"database schema is at {current or 'nothing'}, expected {head}; "
            "run 'midcore db upgrade'",
        )
    return {"status": "ready", "schema_revision": head or ""}


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}, "description": "Metrics"}},
)
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
