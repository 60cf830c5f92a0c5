"""create_app(settings): the FastAPI application with its routers, middleware and lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from midcore import __version__, migrations
from midcore.audit.endpoints import router as audit_router
from midcore.auth.endpoints import router as auth_router
from midcore.config import Settings
from midcore.db import Database
from midcore.errors import ConfigurationError
from midcore.evidence.endpoints import router as evidence_router
from midcore.evidence.service import build_evidence_service
from midcore.health import router as health_router
from midcore.middleware import (
    BodySizeLimitMiddleware,
    HttpMetrics,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from midcore.problems import install_handlers, install_openapi
from midcore.ratelimit import Counter, DatabaseCounter, RateLimiter, RedisCounter
from midcore.runs.dispatch import InlineDispatcher
from midcore.runs.endpoints import router as runs_router
from midcore.runs.events import InProcessEventBus
from midcore.runs.executor import Executor
from midcore.tenants.endpoints import router as members_router
from midcore.tenants.endpoints import sso_router as tenant_sso_router
from midcore.tenants.service import bootstrap_if_empty
from midcore.voice.endpoints import router as voice_router

logger = logging.getLogger("midcore")


def check_settings(settings: Settings) -> None:
    """Refuse settings that cannot run safely; the message is one line for the terminal."""
    if settings.is_production:
        problem = settings.secret_key_problem()
        if problem:
            raise ConfigurationError(problem)


def _announce_key(key: str, settings: Settings) -> None:
    base = f"http://{settings.host}:{settings.port}"
    sys.stdout.write(
        "\n"
        "Midcore created the tenant 'default' and an owner API key. It is shown only now:\n\n"
        f"    {key}\n\n"
        "Use it as a bearer token, for example:\n"
        f"    curl -H 'Authorization: Bearer {key}' {base}/api/v1/auth/me\n\n"
    )
    sys.stdout.flush()


async def prepare_database(database: Database, settings: Settings) -> None:
    """Migrate (when this deployment migrates on start) and bootstrap an empty database."""
    if settings.is_sqlite:
        # The data directory holds the database and signing keys: the owner's eyes only.
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if settings.should_auto_migrate:
        await migrations.upgrade(database.engine)
    if settings.is_sqlite and settings.bootstrap:
        async with database.session() as session:
            key = await bootstrap_if_empty(session)
        if key:
            _announce_key(key, settings)


@asynccontextmanager
async def run_engine(app: FastAPI, database: Database, settings: Settings) -> AsyncIterator[None]:
    """The event bus, the executor and its dispatcher, and the janitor that keeps runs honest."""
    bus = InProcessEventBus()
    executor = Executor(database, settings, bus, app.state.evidence_service)
    dispatcher = InlineDispatcher(executor, settings.max_concurrent_runs)
    dispatcher.start()
    app.state.bus, app.state.executor, app.state.dispatcher = bus, executor, dispatcher
    if await migrations.current_revision(database.engine) == migrations.head_revision():
        # On the embedded database this process is the only executor: what it left active died.
        stale_after = 0.0 if settings.is_sqlite else settings.worker_lost_after_seconds
        lost = await executor.recover_lost_runs(stale_after)
        if lost:
            logger.warning("%d run(s) left active by a stopped process ended as worker_lost", lost)
        await executor.dispatch_queued(dispatcher)
    else:  # /readyz says so; runs are recovered by the janitor once the schema is current
        logger.warning("database schema is not current; run 'midcore db upgrade'")
    janitor = asyncio.create_task(executor.janitor(settings.worker_lost_after_seconds / 2))
    try:
        yield
    finally:
        janitor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await janitor
        await dispatcher.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    check_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.resolved_database_url)
        app.state.db = database
        counter: Counter = (
            RedisCounter(settings.rate_limit_redis_url)
            if settings.rate_limit_redis_url
            else DatabaseCounter(database)
        )
        app.state.rate_limiter = RateLimiter(counter, settings.rate_limit_window_seconds)
        try:
            await prepare_database(database, settings)
            async with run_engine(app, database, settings):
                yield
        finally:
            await app.state.rate_limiter.close()
            await database.dispose()

    docs_enabled = not settings.is_production
    app = FastAPI(
        title="Midcore",
        version=__version__,
        summary="Run AI coding agents from scripts and CI, judged by gates, recorded as evidence.",
        lifespan=lifespan,
        docs_url="/docs" if docs_enabled else None,
        redoc_url="/redoc" if docs_enabled else None,
        openapi_url="/openapi.json" if docs_enabled else None,
    )
    app.state.settings = settings
    app.state.registry = CollectorRegistry()
    app.state.evidence_service = build_evidence_service(settings)
    install_handlers(app)
    install_openapi(app)
    # The last added runs first: security headers wrap everything (500s included); the request
    # id is set before a body is refused, so that a 413 carries it.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    app.add_middleware(RequestContextMiddleware, metrics=HttpMetrics(app.state.registry))
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.is_production)
    routers = (health_router, auth_router, members_router, tenant_sso_router, audit_router)
    for router in (*routers, runs_router, evidence_router):
        app.include_router(router)
    app.include_router(voice_router)
    return app
