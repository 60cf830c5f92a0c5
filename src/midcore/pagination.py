"""Cursor pages: newest first, the cursor is the last id of the page (ids sort by creation time)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from midcore.errors import ValidationFailed

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationFailed("cursor is not one this API issued") from None
    if not value or not value.isalnum():
        raise ValidationFailed("cursor is not one this API issued")
    return value


async def fetch_page(
    session: AsyncSession,
    statement: Select[Any, *tuple[Any, ...]],
    id_column: InstrumentedAttribute[str],
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Any], str | None]:
    """Items of one page and the cursor of the next (None on the last page).

    An item is the entity, or a tuple when the statement selects several; `id_column` belongs to
    the first one.
    """
    if cursor:
        statement = statement.where(id_column < decode_cursor(cursor))
    result = await session.execute(statement.order_by(id_column.desc()).limit(limit + 1))
    rows = result.all()
    items = [row[0] if len(row) == 1 else tuple(row) for row in rows[:limit]]
    if len(rows) > limit:
        return items, encode_cursor(getattr(rows[limit - 1][0], id_column.key))
    return items, None
