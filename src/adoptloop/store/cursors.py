"""Cursors: how far each (source, stream) has been read, so the next pull starts there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from adoptloop.store import schema
from adoptloop.store.schema import utcnow


def get_cursor(conn: Connection, source: str, stream: str) -> str | None:
    t = schema.cursors
    return conn.execute(
        select(t.c.value).where((t.c.source == source) & (t.c.stream == stream))
    ).scalar_one_or_none()


def set_cursor(conn: Connection, source: str, stream: str, value: str) -> None:
    t = schema.cursors
    where = (t.c.source == source) & (t.c.stream == stream)
    if conn.execute(select(t.c.value).where(where)).first() is None:
        conn.execute(
            t.insert().values(source=source, stream=stream, value=value, updated_at=utcnow())
        )
    else:
        conn.execute(t.update().where(where).values(value=value, updated_at=utcnow()))


def of_source(conn: Connection, source: str) -> dict[str, str]:
    """stream -> cursor, for every stream of `source`."""
    t = schema.cursors
    rows = conn.execute(select(t.c.stream, t.c.value).where(t.c.source == source))
    return {str(stream): str(value) for stream, value in rows}


def all_cursors(conn: Connection) -> list[dict[str, Any]]:
    t = schema.cursors
    return [dict(r) for r in conn.execute(select(t).order_by(t.c.source, t.c.stream)).mappings()]


def updated_by_source(conn: Connection) -> dict[str, str]:
    """source -> when one of its cursors last moved."""
    t = schema.cursors
    rows = conn.execute(select(t.c.source, func.max(t.c.updated_at)).group_by(t.c.source))
    return {str(source): str(updated) for source, updated in rows}


def forget_source(conn: Connection, source: str) -> int:
    """Delete every cursor of `source` (all its streams); how many there were."""
    t = schema.cursors
    return conn.execute(t.delete().where(t.c.source == source)).rowcount
