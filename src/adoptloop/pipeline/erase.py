"""Erasure of one person (GDPR art. 17): void in the LRS, purge from the store, keep them out.

1. Every statement about the person (they are the actor) is voided; the voiding statements
   hold only statement ids and go through the outbox like any other.
2. Statements where the person is only the observing manager are voided and re-issued
   without an instructor (the observation itself is about the rep and stays).
3. Their rows are deleted: HR history, identities, completions, observations of them and
   their ratings, development actions, calls, the outbox copies of their statements, and
   quarantine entries keyed by them; references to them as a manager become "(erased)".
4. An audit entry records when and how much, with a keyed digest of the HR id (no HR id, no
   name), which is also what stops the next pull from importing them again from exports
   that still contain them. On SQLite the file is vacuumed so deleted pages are gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from sqlalchemy import Connection, delete, or_, select, text, update

from adoptloop.domain import ERASED
from adoptloop.errors import AdoptloopError
from adoptloop.pipeline.translate import Finalizer
from adoptloop.store import outbox, schema
from adoptloop.store.erasures import is_recorded, record_erasure
from adoptloop.store.outbox import Queued
from adoptloop.store.records import forget_adoption_computation, row_digest
from adoptloop.xapi.canonical import timestamp

log = structlog.get_logger(__name__)


class UnknownPersonError(AdoptloopError):
    exit_code = 1


@dataclass
class ErasureResult:
    erasure_id: str
    counts: dict[str, int] = field(default_factory=dict)


def erase_person(
    conn: Connection, finalizer: Finalizer, key: bytes, hr_id: str, *, run_id: str, now: str
) -> ErasureResult:
    """Everything in one transaction: either the person is gone and voided, or nothing changed."""
    if is_recorded(conn, key, hr_id):
        raise UnknownPersonError(f"{hr_id} was already erased; nothing to do")
    if not _known(conn, hr_id):
        raise UnknownPersonError(f"no person with hr_id {hr_id} in the store; check the id")
    counts: dict[str, int] = {}
    counts["statements_voided"] = _void_statements_about(conn, finalizer, hr_id, run_id, now)
    counts["observations_reissued"] = _forget_as_observer(conn, hr_id)
    counts.update(_purge(conn, hr_id))
    forget_adoption_computation(conn)  # their reports' manager is now ERASED: recompute all
    erasure_id = record_erasure(conn, key, hr_id, counts)
    log.info("person erased", erasure_id=erasure_id, **counts)
    return ErasureResult(erasure_id, counts)


def _known(conn: Connection, hr_id: str) -> bool:
    probes = [
        select(schema.people.c.hr_id).where(schema.people.c.hr_id == hr_id),
        select(schema.identities.c.hr_id).where(schema.identities.c.hr_id == hr_id),
        select(schema.emitted.c.hr_id).where(schema.emitted.c.hr_id == hr_id),
    ]
    return any(conn.execute(probe.limit(1)).first() is not None for probe in probes)


def _void_statements_about(
    conn: Connection, finalizer: Finalizer, hr_id: str, run_id: str, now: str
) -> int:
    e = schema.emitted
    current = (
        conn.execute(
            select(e.c.statement_id)
            .where((e.c.hr_id == hr_id) & e.c.voided.is_(False))
            .order_by(e.c.key)
        )
        .scalars()
        .all()
    )
    queue = []
    for statement_id in current:
        void_id, payload = finalizer.voiding(statement_id, now)
        queue.append(Queued(void_id, "voided", payload, None))
    outbox.enqueue(conn, queue, run_id)
    conn.execute(delete(e).where(e.c.hr_id == hr_id))
    conn.execute(delete(schema.outbox).where(schema.outbox.c.hr_id == hr_id))
    return len(queue)


def _forget_as_observer(conn: Connection, hr_id: str) -> int:
    """Observations of others by this person: re-translated (void + re-issue) without them."""
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


def _purge(conn: Connection, hr_id: str) -> dict[str, int]:
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
    conn.execute(
        update(schema.interactions)
        .where(schema.interactions.c.manager_hr_id == hr_id)
        .values(manager_hr_id=ERASED)
    )
    conn.execute(
        update(schema.people)
        .where(schema.people.c.manager_hr_id == hr_id)
        .values(manager_hr_id=ERASED)
    )
    states = schema.adoption_states
    conn.execute(update(states).where(states.c.manager_hr_id == hr_id).values(manager_hr_id=ERASED))
    return counts


def vacuum(conn: Connection) -> None:
    """Rewrite a SQLite file so deleted rows do not linger in free pages or the WAL."""
    if conn.dialect.name == "sqlite":
        conn.execute(text("VACUUM"))
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def now_timestamp() -> str:
    return timestamp(datetime.now(UTC))
