"""Quarantine: records that could not be used, one entry per (source, stream, record key),
with where it was and why; resolved when the record is later used, retried on request."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from adoptloop.store import bulk, outbox, schema
from adoptloop.store.schema import utcnow


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


def open_keys(
    conn: Connection, source: str, stream: str, reason_prefix: str | None = None
) -> set[str]:
    """The record keys of a stream's open entries (whose reason starts with `reason_prefix`,
    when given)."""
    t = schema.quarantine
    where = (t.c.source == source) & (t.c.stream == stream) & t.c.resolved.is_(False)
    if reason_prefix is not None:
        where &= t.c.reason.startswith(reason_prefix, autoescape=True)
    return set(conn.execute(select(t.c.record_key).where(where)).scalars())


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
            & bulk.one_of(conn, t.c.record_key, key_list)
            & t.c.resolved.is_(False)
        )
        .values(resolved=True)
    )


def counts(conn: Connection) -> list[tuple[str, str, int]]:
    """(source, stream, open entries)."""
    t = schema.quarantine
    rows = conn.execute(
        select(t.c.source, t.c.stream, func.count())
        .where(t.c.resolved.is_(False))
        .group_by(t.c.source, t.c.stream)
        .order_by(t.c.source, t.c.stream)
    ).all()
    return [(r[0], r[1], int(r[2])) for r in rows]


def entries(conn: Connection, *, limit: int = 100) -> list[dict[str, Any]]:
    t = schema.quarantine
    return [
        dict(r)
        for r in conn.execute(
            select(t).where(t.c.resolved.is_(False)).order_by(t.c.id).limit(limit)
        ).mappings()
    ]


def counts_by_reason(conn: Connection) -> list[tuple[str, str, str, int]]:
    """(source, stream, reason, open entries)."""
    q = schema.quarantine
    rows = conn.execute(
        select(q.c.source, q.c.stream, q.c.reason, func.count())
        .where(q.c.resolved.is_(False))
        .group_by(q.c.source, q.c.stream, q.c.reason)
    )
    return [(str(source), str(stream), str(reason), int(n)) for source, stream, reason, n in rows]


def reasons_seen_in(conn: Connection, run_id: str) -> list[tuple[str, str, str, int]]:
    """(source, stream, reason, entries) of the open entries the run `run_id` saw."""
    q = schema.quarantine
    rows = conn.execute(
        select(q.c.source, q.c.stream, q.c.reason, func.count())
        .where(q.c.resolved.is_(False) & (q.c.last_seen_run == run_id))
        .group_by(q.c.source, q.c.stream, q.c.reason)
        .order_by(func.count().desc(), q.c.source, q.c.stream, q.c.reason)
    )
    return [(str(source), str(stream), str(reason), int(n)) for source, stream, reason, n in rows]


# --- retry -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPlan:
    """What `quarantine retry` changes, from the open quarantine entries."""

    statements: list[str] = field(default_factory=list)  # rejected by the LRS: send again
    records: list[tuple[str, str, str]] = field(default_factory=list)  # (table, source, id)
    streams: list[tuple[str, str]] = field(default_factory=list)  # (source, stream): re-read

    def __bool__(self) -> bool:
        return bool(self.statements or self.records or self.streams)


def retry_plan(conn: Connection, *, source: str | None, stream: str | None) -> RetryPlan:
    """Statements the LRS rejected go back to the outbox; statements that were invalid are
    made again from their records; a stream with records a pull rejected is read again, and so
    is a stream whose parked records wait for a quarantined user (read in full, it drops the
    ones the source no longer has before the user's records are taken up)."""
    q = schema.quarantine
    query = select(q.c.source, q.c.stream, q.c.record_key, q.c.location).where(
        q.c.resolved.is_(False)
    )
    if source is not None:
        query = query.where(q.c.source == source)
    if stream is not None:
        query = query.where(q.c.stream == stream)
    statements: list[str] = []
    records: list[tuple[str, str, str]] = []
    streams: set[tuple[str, str]] = set()
    for row in conn.execute(query):
        if (row.source, row.stream) == ("lrs", "delivery"):
            statements.append(row.record_key)
        elif row.stream == "statements":
            table, _, record_id = row.location.partition(" ")
            if (
                table in schema.metadata.tables
                and "translated_digest" in schema.metadata.tables[table].c
            ):
                records.append((table, row.source, record_id))
        else:
            streams.add((row.source, row.stream))
            p = schema.parked
            streams.update(
                (row.source, str(waiting))
                for waiting in conn.execute(
                    select(p.c.stream)
                    .where((p.c.source == row.source) & (p.c.external_id == row.record_key))
                    .distinct()
                ).scalars()
            )
    return RetryPlan(statements, records, sorted(streams))


def apply_retry(conn: Connection, plan: RetryPlan) -> None:
    """Rejected statements pending again, records untranslated, streams' cursors cleared;
    the entries leave quarantine when the retry succeeds."""
    box = schema.outbox
    if plan.statements:
        conn.execute(
            update(box)
            .where(box.c.statement_id.in_(plan.statements) & (box.c.state == outbox.REJECTED))
            .values(state=outbox.PENDING, error=None, lease_until=None)
        )
    for table_name, source, record_id in plan.records:
        table = schema.metadata.tables[table_name]
        conn.execute(
            update(table)
            .where((table.c.source == source) & (table.c.record_id == record_id))
            .values(translated_digest=None)
        )
    cursors = schema.cursors
    for source, stream in plan.streams:
        conn.execute(
            cursors.delete().where((cursors.c.source == source) & (cursors.c.stream == stream))
        )


def quarantined_at(conn: Connection, source: str, stream: str, record_key: str) -> str | None:
    """Where a quarantined record was seen (its location), if it is in quarantine."""
    t = schema.quarantine
    return conn.execute(
        select(t.c.location).where(
            (t.c.source == source) & (t.c.stream == stream) & (t.c.record_key == record_key)
        )
    ).scalar_one_or_none()
