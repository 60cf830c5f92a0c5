"""All settings in one place: environment variables with the prefix MIDCORE_."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Secrets shorter than this, or with fewer distinct characters, are refused in production.
MIN_SECRET_LENGTH = 32
_PLACEHOLDER_SECRETS = {"changeme", "secret", "dev", "development", "insecure"}


class Environment(StrEnum):
    development = "development"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MIDCORE_", extra="ignore")

    env: Environment = Environment.development
    data_dir: Path = Path(".midcore")
    database_url: str | None = None
    queue: Literal["inline", "celery"] = "inline"
    broker_url: str | None = None
    secret_key: str | None = None
    workspace_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    sandbox: Literal["auto", "bwrap", "none"] = "auto"
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    voice_backend: str = "pocketsphinx"
    # Backends a request may pick with `backend=` besides the configured one (comma-separated).
    voice_allowed_backends: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # 25 MiB is what hosted transcription APIs accept; two minutes is ample for a command.
    voice_max_bytes: int = Field(25 * 1024 * 1024, gt=0)
    voice_max_duration_seconds: float = Field(120.0, gt=0)
    voice_ffmpeg: str = "ffmpeg"
    voice_whisper_model_dir: Path | None = None
    voice_openai_base_url: str | None = None
    voice_openai_api_key: str | None = None
    voice_openai_model: str = "whisper-1"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "info"
    # Migrations run on start by default only on the embedded SQLite database; on PostgreSQL
    # several API processes may start at once, so `midcore db upgrade` is an explicit step.
    auto_migrate: bool | None = None
    # Runs: how many execute at once in this process, the largest budget a request may ask for,
    # when an executor that stopped beating is declared lost, and how long run folders are kept.
    max_concurrent_runs: int = Field(default=4, ge=1)
    max_budget_seconds: int = Field(default=3600, ge=1)
    worker_lost_after_seconds: float = Field(default=30.0, gt=0)
    run_retention_hours: float = Field(default=24.0, ge=0)
    sse_keepalive_seconds: float = Field(default=15.0, gt=0)
    # Agents get no network unless a run asks for it and this allows it.
    allow_agent_network: bool = False
    # Limits on each agent process (None: the inherited limit).
    agent_memory_mb: int | None = Field(default=None, ge=64)
    agent_file_size_mb: int | None = Field(default=2048, ge=1)
    # On the embedded database, the first start creates a default tenant and prints an owner key.
    bootstrap: bool = True
    # An Ed25519 PKCS#8 PEM that signs evidence for every tenant, instead of keys in DATA_DIR/keys.
    evidence_key_file: Path | None = None
    # Where browsers reach the server (for the SSO redirect URI); the request's own URL when unset.
    public_url: str | None = None
    # Browser sessions: idle and absolute lifetimes; the cookie is Secure in production unless set.
    session_idle_seconds: int = Field(default=8 * 3600, ge=60)
    session_absolute_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    session_cookie_secure: bool | None = None
    password_min_length: int = Field(default=12, ge=8)
    # Where the browser lands after a successful SSO sign-in.
    sso_success_url: str = "/"
    # Rate limits (requests per window, counted in the database so that every API process shares
    # them): sign-in attempts per client IP, and requests per API key. 0 turns a limit off.
    rate_limit_window_seconds: int = Field(default=60, ge=1)
    rate_limit_sign_in_per_ip: int = Field(default=10, ge=0)
    rate_limit_per_api_key: int = Field(default=1200, ge=0)
    # Count in Redis instead of the database (needs the `redis` extra).
    rate_limit_redis_url: str | None = None
    # Request bodies: JSON and forms, and uploads (multipart, audio, octet-stream).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)

    @field_validator("workspace_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.split(":") if part]
        return value

    @field_validator("voice_allowed_backends", mode="before")
    @classmethod
    def _split_backends(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def is_production(self) -> bool:
        return self.env is Environment.production

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'midcore.db').resolve()}"

    @property
    def cookie_secure(self) -> bool:
        if self.session_cookie_secure is None:
            return self.is_production
        return self.session_cookie_secure

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def should_auto_migrate(self) -> bool:
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate

    def secret_key_problem(self) -> str | None:
        """Why the secret key is unfit for production, or None when it is fine."""
        key = self.secret_key or ""
        if not key:
            return "MIDCORE_SECRET_KEY is required when MIDCORE_ENV=production"
        if len(key) < MIN_SECRET_LENGTH or key.lower() in _PLACEHOLDER_SECRETS:
            return (
                f"MIDCORE_SECRET_KEY must be at least {MIN_SECRET_LENGTH} random characters "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if len(set(key)) < 10:
            return "MIDCORE_SECRET_KEY is too repetitive; use a random value"
        return None
