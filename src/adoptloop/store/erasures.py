"""Erasure in the store: purge a person, rewrite references to them, and remember the erasure.

The store never holds an erased person's identifiers: an erasure is remembered by keyed digests
the caller computes (pipeline/erase.py), the audit entry's subject digest and the suppression
list (`suppressed`), which is how the next pull refuses to import them again.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import orjson
from sqlalchemy import ColumnElement, Connection, delete, false, or_, select, text, update

from adoptloop.domain import ERASED
from adoptloop.store import aggregates as kept_metrics
from adoptloop.store import schema
from adoptloop.store.records import row_digest
from adoptloop.store.schema import utcnow


def suppressed_digests(conn: Connection) -> frozenset[str]:
    """The suppression list: the digest of every identifier of every person erased so far."""
    return frozenset(conn.execute(select(schema.suppressed.c.digest)).scalars())


def suppress(conn: Connection, erasure_id: str, digests: Iterable[str]) -> int:
    """Add digests to the suppression list (those already on it stay as they are)."""
    t = schema.suppressed
    known = suppressed_digests(conn)
    rows = [{"digest": d, "erasure_id": erasure_id} for d in sorted(set(digests) - known)]
    if rows:
        conn.execute(t.insert(), rows)
    return len(rows)


@dataclass(frozen=True, slots=True)
class Identifiers:
    """What names a person in the store: HR emails and employee numbers (any of their rows),
    and the source accounts (system, external id) the identities table maps to them."""

    emails: frozenset[str]
    employee_numbers: frozenset[str]
    accounts: frozenset[tuple[str, str]]


def identifiers(conn: Connection, hr_id: str) -> Identifiers:
    p, i = schema.people, schema.identities
    rows = conn.execute(select(p.c.email, p.c.employee_number).where(p.c.hr_id == hr_id)).all()
    accounts = conn.execute(select(i.c.system, i.c.external_id).where(i.c.hr_id == hr_id)).all()
    return Identifiers(
        frozenset(email for email, _ in rows if email),
        frozenset(number for _, number in rows if number),
        frozenset((system, external_id) for system, external_id in accounts),
    )


def is_recorded(conn: Connection, subject_digest: str) -> bool:
    t = schema.erasures
    query = select(t.c.erasure_id).where(t.c.subject_digest == subject_digest)
    return conn.execute(query).first() is not None


def new_erasure_id() -> str:
    return str(uuid.uuid4())


def record_erasure(
    conn: Connection, erasure_id: str, subject_digest: str, counts: Mapping[str, int]
) -> None:
    """The audit entry: when and how much, under the subject's digest (no HR id, no name)."""
    conn.execute(
        schema.erasures.insert().values(
            erasure_id=erasure_id,
            erased_at=utcnow(),
            subject_digest=subject_digest,
            counts=orjson.dumps(dict(counts), option=orjson.OPT_SORT_KEYS).decode(),
        )
    )


def update_counts(conn: Connection, erasure_id: str, counts: Mapping[str, int]) -> None:
    """The audit entry's counts, completed once the re-issued statements are made."""
    conn.execute(
        update(schema.erasures)
        .where(schema.erasures.c.erasure_id == erasure_id)
        .values(counts=orjson.dumps(dict(counts), option=orjson.OPT_SORT_KEYS).decode())
    )


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


def forget_statements_about(conn: Connection, hr_id: str, pseudonym: str) -> int:
    """Drop what was emitted about the person, and every outbox copy of a statement about them
    or naming their pseudonym anywhere (as instructor, in an earlier revision of someone else's
    statement): the voiding statements that replace them name only statement ids. Returns the
    outbox rows purged."""
    box = schema.outbox
    conn.execute(delete(schema.emitted).where(schema.emitted.c.hr_id == hr_id))
    naming = box.c.payload.contains(f'"name":"{pseudonym}"', autoescape=True)
    return conn.execute(delete(box).where((box.c.hr_id == hr_id) | naming)).rowcount


def purge_quarantine(conn: Connection, hr_id: str, keys: Collection[str]) -> int:
    """Delete the quarantine entries keyed by the person (their HR rows, their accounts) or whose
    reason names them (e.g. as someone's unknown manager); how many."""
    q = schema.quarantine
    names: list[ColumnElement[bool]] = [
        q.c.record_key == hr_id,
        q.c.record_key.startswith(f"{hr_id}@", autoescape=True),
        q.c.reason.contains(hr_id, autoescape=True),
    ]
    if keys:
        names.append(q.c.record_key.in_(sorted(keys)))
        names += [q.c.reason.contains(key, autoescape=True) for key in sorted(keys)]
    return conn.execute(delete(q).where(or_(false(), *names))).rowcount


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
    """Delete the person's rows everywhere and rewrite references to them as a manager to
    ERASED. Counts: `hr_rows`, `identities`, and `records` (completions, observations of them
    with their ratings, development actions, calls, write-back audit rows, adoption states)."""
    o, r = schema.observations, schema.ratings
    observed = conn.execute(
        select(o.c.source, o.c.record_id).where(o.c.observed_hr_id == hr_id)
    ).all()
    for source, record_id in observed:
        conn.execute(delete(r).where((r.c.source == source) & (r.c.record_id == record_id)))
    records = [
        delete(o).where(o.c.observed_hr_id == hr_id),
        *(
            delete(table).where(table.c.hr_id == hr_id)
            for table in (
                schema.completions,
                schema.development_actions,
                schema.interactions,
                schema.writebacks,
                schema.adoption_states,
            )
        ),
    ]
    counts = {
        "hr_rows": conn.execute(
            delete(schema.people).where(schema.people.c.hr_id == hr_id)
        ).rowcount,
        "identities": conn.execute(
            delete(schema.identities).where(schema.identities.c.hr_id == hr_id)
        ).rowcount,
        "records": sum(conn.execute(statement).rowcount for statement in records),
    }
    for scratch in (schema.adoption_dirty, schema.estimate_dirty, schema.adoption_scratch):
        conn.execute(delete(scratch).where(scratch.c.hr_id == hr_id))
    kept_metrics.forget_person(conn, hr_id)  # the kept sums name them (or their HR id as a group)
    for table in (
        schema.interactions,
        schema.people,
        schema.adoption_states,
        schema.adoption_scratch,
    ):
        conn.execute(
            update(table).where(table.c.manager_hr_id == hr_id).values(manager_hr_id=ERASED)
        )
    return counts


def vacuum(conn: Connection) -> None:
    """Rewrite a SQLite file so deleted rows do not linger in free pages or the WAL."""
    if conn.dialect.name == "sqlite":
        conn.execute(text("VACUUM"))
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
