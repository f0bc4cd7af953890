"""Cursors, quarantine and run history."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, func, select, update

from adoptloop.store import schema


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- cursors -------------------------------------------------------------------------------


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


def all_cursors(conn: Connection) -> list[dict[str, Any]]:
    t = schema.cursors
    return [dict(r) for r in conn.execute(select(t).order_by(t.c.source, t.c.stream)).mappings()]


# --- quarantine ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    source: str
    stream: str
    record_key: str
    location: str
    reason: str


def quarantine(conn: Connection, run_id: str, entries: Iterable[QuarantineEntry]) -> int:
    """Record rejected records; one row per (source, stream, record key), refreshed on re-runs."""
    t = schema.quarantine
    latest: dict[tuple[str, str, str], QuarantineEntry] = {}
    count = 0
    for entry in entries:
        count += 1
        latest[(entry.source, entry.stream, entry.record_key)] = entry  # the last one wins
    if not latest:
        return count
    known: set[tuple[str, str, str]] = set()
    by_stream: dict[tuple[str, str], list[str]] = {}
    for source, stream, key in latest:
        by_stream.setdefault((source, stream), []).append(key)
    for (source, stream), keys in by_stream.items():
        for offset in range(0, len(keys), 500):
            known.update(
                (source, stream, key)
                for (key,) in conn.execute(
                    select(t.c.record_key).where(
                        (t.c.source == source)
                        & (t.c.stream == stream)
                        & t.c.record_key.in_(keys[offset : offset + 500])
                    )
                )
            )
    now = utcnow()
    fresh = [
        {
            "source": e.source,
            "stream": e.stream,
            "record_key": e.record_key,
            "location": e.location,
            "reason": e.reason,
            "first_seen_run": run_id,
            "last_seen_run": run_id,
            "resolved": False,
            "updated_at": now,
        }
        for key, e in latest.items()
        if key not in known
    ]
    seen = [
        {
            "_source": e.source,
            "_stream": e.stream,
            "_record_key": e.record_key,
            "_location": e.location,
            "_reason": e.reason,
            "_last_seen_run": run_id,
            "_resolved": False,
            "_updated_at": now,
        }
        for key, e in latest.items()
        if key in known
    ]
    if fresh:
        conn.execute(t.insert(), fresh)
    if seen:
        conn.execute(
            t.update()
            .where(
                (t.c.source == bindparam("_source"))
                & (t.c.stream == bindparam("_stream"))
                & (t.c.record_key == bindparam("_record_key"))
            )
            .values(
                {
                    c: bindparam(f"_{c}")
                    for c in ("location", "reason", "last_seen_run", "resolved", "updated_at")
                }
            ),
            seen,
        )
    return count


def resolve_quarantined(conn: Connection, source: str, stream: str, keys: Iterable[str]) -> None:
    """Records that were stored fine are no longer in quarantine."""
    key_list = list(keys)
    if not key_list:
        return
    t = schema.quarantine
    conn.execute(
        update(t)
        .where(
            (t.c.source == source)
            & (t.c.stream == stream)
            & t.c.record_key.in_(key_list)
            & t.c.resolved.is_(False)
        )
        .values(resolved=True)
    )


def quarantine_counts(conn: Connection) -> list[tuple[str, str, int]]:
    """(source, stream, open entries)."""
    t = schema.quarantine
    rows = conn.execute(
        select(t.c.source, t.c.stream, func.count())
        .where(t.c.resolved.is_(False))
        .group_by(t.c.source, t.c.stream)
        .order_by(t.c.source, t.c.stream)
    ).all()
    return [(r[0], r[1], int(r[2])) for r in rows]


def quarantine_entries(conn: Connection, *, limit: int = 100) -> list[dict[str, Any]]:
    t = schema.quarantine
    return [
        dict(r)
        for r in conn.execute(
            select(t).where(t.c.resolved.is_(False)).order_by(t.c.id).limit(limit)
        ).mappings()
    ]


# --- runs ----------------------------------------------------------------------------------


def start_run(conn: Connection, pipeline: str, scheduled_for: str | None = None) -> str:
    run_id = str(uuid.uuid4())
    now = utcnow()
    conn.execute(
        schema.runs.insert().values(
            run_id=run_id,
            pipeline=pipeline,
            scheduled_for=scheduled_for or f"manual:{now}",
            started_at=now,
            status="running",
            counts="{}",
        )
    )
    return run_id


def finish_run(
    conn: Connection, run_id: str, status: str, counts: Mapping[str, Any], error: str | None = None
) -> None:
    conn.execute(
        schema.runs.update()
        .where(schema.runs.c.run_id == run_id)
        .values(
            status=status,
            finished_at=utcnow(),
            counts=orjson.dumps(counts, option=orjson.OPT_SORT_KEYS).decode(),
            error=error,
        )
    )


def recent_runs(conn: Connection, limit: int = 5) -> list[dict[str, Any]]:
    t = schema.runs
    rows = conn.execute(select(t).order_by(t.c.started_at.desc()).limit(limit)).mappings()
    return [{**r, "counts": orjson.loads(r["counts"] or "{}")} for r in rows]


# --- scheduled runs: claim, resume, stale -------------------------------------------------
# Called with the store's `run` lock held (store/locks.py), so no other run is live.


def interrupt_stale_runs(conn: Connection) -> int:
    """Runs still marked running belong to a process that died: mark them interrupted."""
    t = schema.runs
    return conn.execute(
        update(t)
        .where((t.c.status == "running") & (t.c.pipeline != "erase"))  # erasure: not locked
        .values(
            status="interrupted",
            finished_at=utcnow(),
            error="the process running it ended without finishing",
        )
    ).rowcount


def claim_run(
    conn: Connection, pipeline: str, scheduled_for: str | None, *, holder: str | None = None
) -> str | None:
    """Start a run, or resume the one for the same schedule that did not succeed.

    Returns the run id, or None when (pipeline, scheduled_for) already succeeded. The unique
    (pipeline, scheduled_for) constraint is the last safeguard: a concurrent insert fails.
    """
    t = schema.runs
    now = utcnow()
    key = scheduled_for or f"manual:{now}"
    row = conn.execute(
        select(t.c.run_id, t.c.status).where(
            (t.c.pipeline == pipeline) & (t.c.scheduled_for == key)
        )
    ).first()
    if row is None:
        run_id = str(uuid.uuid4())
        conn.execute(
            t.insert().values(
                run_id=run_id,
                pipeline=pipeline,
                scheduled_for=key,
                started_at=now,
                status="running",
                counts="{}",
                attempts=1,
                holder=holder,
            )
        )
        return run_id
    if row.status == "succeeded":
        return None
    resumed = conn.execute(
        update(t)
        .where((t.c.run_id == row.run_id) & (t.c.status != "succeeded"))
        .values(
            status="running",
            started_at=now,
            finished_at=None,
            error=None,
            attempts=t.c.attempts + 1,
            holder=holder,
        )
    ).rowcount
    return str(row.run_id) if resumed else None


def last_success_since(
    conn: Connection, pipeline: str, scheduled_for: str, since: str
) -> dict[str, Any] | None:
    """The latest succeeded run of `pipeline` for `scheduled_for`, or started at `since` or later."""
    t = schema.runs
    row = (
        conn.execute(
            select(t)
            .where(
                (t.c.pipeline == pipeline)
                & (t.c.status == "succeeded")
                & ((t.c.scheduled_for == scheduled_for) | (t.c.started_at >= since))
            )
            .order_by(t.c.started_at.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)
