"""Identifiers: time-ordered, so that sorting by id is sorting by creation (cursor pagination)."""

from __future__ import annotations

import secrets
import time


def new_id() -> str:
    """26 hex characters: 48 bits of milliseconds, then 56 random bits."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(7)}"
