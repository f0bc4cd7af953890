"""What a snapshot export no longer names: the live records of a source it did not list.

A file read in `mode: snapshot` is the whole truth for the kinds of record its stream yields;
the pull stage asks `live_ids` what the store holds live for them, and deletes (tombstones,
terminates) the ones the file no longer lists — unless too many went missing at once.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, func, select

from adoptloop.store import schema

# the table of each kind of record a snapshot may delete (people are handled apart: HR rows
# are effective-dated and carry no source)
TABLES = {
    "completion": "completions",
    "observation": "observations",
    "action": "development_actions",
    "interaction": "interactions",
}


def live_ids(conn: Connection, source: str, kind: str) -> Iterator[str]:
    """Record ids of `kind` from `source` that are stored and not deleted; for "person", the
    hr_ids whose latest HR row is not terminated. Streamed, each once: a backfill of a large
    org compares a quarter of a million ids at 10,000 reps."""
    if kind == "person":
        p = schema.people
        latest = (
            select(p.c.hr_id, func.max(p.c.valid_from).label("valid_from"))
            .group_by(p.c.hr_id)
            .subquery()
        )
        rows = conn.execute(
            select(p.c.hr_id)
            .join(latest, (p.c.hr_id == latest.c.hr_id) & (p.c.valid_from == latest.c.valid_from))
            .where(p.c.status != "terminated")
        ).scalars()
        return iter(rows)
    table = schema.metadata.tables[TABLES[kind]]
    return iter(
        conn.execute(
            select(table.c.record_id).where((table.c.source == source) & table.c.deleted.is_(False))
        ).scalars()
    )


def parked_keys(conn: Connection, source: str, stream: str) -> set[str]:
    """Keys of the records of `stream` that wait for their person."""
    t = schema.parked
    return set(
        conn.execute(
            select(t.c.record_key).where((t.c.source == source) & (t.c.stream == stream))
        ).scalars()
    )
