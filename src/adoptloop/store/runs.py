"""Run history: one row per run of a pipeline (nightly, a source's own job, retention, erase),
with its status, counts per stage and, for scheduled runs, the fire time it stands for."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from adoptloop.store import schema
from adoptloop.store.schema import utcnow


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


# A run in one of these states did its work and is not resumed: "attention" is done, but data
# over a limit needs a person (exit 65). "stopped" (API budget) and "interrupted" are resumed.
DONE = ("succeeded", "attention")

# --- scheduled runs: claim, resume, stale -------------------------------------------------
# Called with the store's `run` lock held (store/locks.py), so no other run is live.


def open_run(
    engine: Engine, pipeline: str, scheduled_for: str | None, *, holder: str
) -> str | None:
    """Runs a dead process left running are marked interrupted, then (pipeline,
    scheduled_for) is claimed (see claim_run), in one transaction.

    Returns the run id, or None when it already succeeded or another process inserted it
    first (the unique (pipeline, scheduled_for) refused our row).
    """
    try:
        with engine.begin() as conn:
            interrupt_stale_runs(conn)
            return claim_run(conn, pipeline, scheduled_for, holder=holder)
    except IntegrityError:
        return None


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
    if row.status in DONE:
        return None
    resumed = conn.execute(
        update(t)
        .where((t.c.run_id == row.run_id) & t.c.status.not_in(DONE))
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
    conn: Connection, pipeline: str, scheduled_for: str, since: datetime
) -> dict[str, Any] | None:
    """The latest done run (DONE) of `pipeline` for `scheduled_for`, or started at `since` or
    later."""
    t = schema.runs
    row = (
        conn.execute(
            select(t)
            .where(
                (t.c.pipeline == pipeline)
                & t.c.status.in_(DONE)
                & ((t.c.scheduled_for == scheduled_for) | (t.c.started_at >= schema.stamp(since)))
            )
            .order_by(t.c.started_at.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)
