"""Erasure in the store: purge a person, rewrite references to them, and remember the erasure.

The store never holds an erased HR id: an erasure is remembered by the keyed digest the caller
computes (pipeline/erase.py), which is also how the next pull refuses to import them again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import orjson
from sqlalchemy import Connection, delete, or_, select, text, update

from adoptloop.domain import ERASED
from adoptloop.store import schema
from adoptloop.store.records import row_digest
from adoptloop.store.schema import utcnow


def erased_digests(conn: Connection) -> frozenset[str]:
    """The subject digests of every erasure so far."""
    return frozenset(conn.execute(select(schema.erasures.c.subject_digest)).scalars())


def is_recorded(conn: Connection, subject_digest: str) -> bool:
    t = schema.erasures
    query = select(t.c.erasure_id).where(t.c.subject_digest == subject_digest)
    return conn.execute(query).first() is not None


def record_erasure(conn: Connection, subject_digest: str, counts: Mapping[str, int]) -> str:
    """The audit entry: when and how much, under the subject's digest (no HR id, no name)."""
    erasure_id = str(uuid.uuid4())
    conn.execute(
        schema.erasures.insert().values(
            erasure_id=erasure_id,
            erased_at=utcnow(),
            subject_digest=subject_digest,
            counts=orjson.dumps(dict(counts), option=orjson.OPT_SORT_KEYS).decode(),
        )
    )
    return erasure_id


def is_known(conn: Connection, hr_id: str) -> bool:
    """Whether the store holds anything about the person: HR rows, an identity, a statement."""
    probes = [
        select(schema.people.c.hr_id).where(schema.people.c.hr_id == hr_id),
        select(schema.identities.c.hr_id).where(schema.identities.c.hr_id == hr_id),
        select(schema.emitted.c.hr_id).where(schema.emitted.c.hr_id == hr_id),
    ]
    return any(conn.execute(probe.limit(1)).first() is not None for probe in probes)


def live_statements_about(conn: Connection, hr_id: str) -> list[str]:
    """Ids of the statements that stand for records about the person (not voided), by key."""
    e = schema.emitted
    query = (
        select(e.c.statement_id)
        .where((e.c.hr_id == hr_id) & e.c.voided.is_(False))
        .order_by(e.c.key)
    )
    return list(conn.execute(query).scalars())


def forget_statements_about(conn: Connection, hr_id: str) -> None:
    """Drop what was emitted about the person and the outbox copies of those statements."""
    conn.execute(delete(schema.emitted).where(schema.emitted.c.hr_id == hr_id))
    conn.execute(delete(schema.outbox).where(schema.outbox.c.hr_id == hr_id))


def forget_as_observer(conn: Connection, hr_id: str) -> int:
    """Observations of others by this person name ERASED as observer instead; their digests
    change, so the translate stage voids and re-issues their statements without them."""
    o = schema.observations
    rows = conn.execute(
        select(o.c.source, o.c.record_id, o.c.digest).where(o.c.observer_hr_id == hr_id)
    ).all()
    for row in rows:
        conn.execute(
            update(o)
            .where((o.c.source == row.source) & (o.c.record_id == row.record_id))
            .values(observer_hr_id=ERASED, digest=row_digest({"erased-observer": row.digest}))
        )
    return len(rows)


def purge_person(conn: Connection, hr_id: str) -> dict[str, int]:
    """Delete the person's rows everywhere (counts per table) and rewrite references to them
    as a manager to ERASED."""
    counts: dict[str, int] = {}
    o, r = schema.observations, schema.ratings
    observed = conn.execute(
        select(o.c.source, o.c.record_id).where(o.c.observed_hr_id == hr_id)
    ).all()
    for source, record_id in observed:
        conn.execute(delete(r).where((r.c.source == source) & (r.c.record_id == record_id)))
    deletions = {
        "observations": delete(o).where(o.c.observed_hr_id == hr_id),
        "completions": delete(schema.completions).where(schema.completions.c.hr_id == hr_id),
        "development_actions": delete(schema.development_actions).where(
            schema.development_actions.c.hr_id == hr_id
        ),
        "interactions": delete(schema.interactions).where(schema.interactions.c.hr_id == hr_id),
        "identities": delete(schema.identities).where(schema.identities.c.hr_id == hr_id),
        "writebacks": delete(schema.writebacks).where(schema.writebacks.c.hr_id == hr_id),
        "adoption_states": delete(schema.adoption_states).where(
            schema.adoption_states.c.hr_id == hr_id
        ),
        "people_rows": delete(schema.people).where(schema.people.c.hr_id == hr_id),
        "quarantine": delete(schema.quarantine).where(
            or_(
                schema.quarantine.c.record_key == hr_id,
                schema.quarantine.c.record_key.startswith(f"{hr_id}@"),
            )
        ),
    }
    for name, statement in deletions.items():
        counts[name] = conn.execute(statement).rowcount
    for table in (schema.interactions, schema.people, schema.adoption_states):
        conn.execute(
            update(table).where(table.c.manager_hr_id == hr_id).values(manager_hr_id=ERASED)
        )
    return counts


def vacuum(conn: Connection) -> None:
    """Rewrite a SQLite file so deleted rows do not linger in free pages or the WAL."""
    if conn.dialect.name == "sqlite":
        conn.execute(text("VACUUM"))
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
