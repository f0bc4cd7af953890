"""The outbox: statements waiting for (or archived after) delivery, and what each key emitted.

`emitted` remembers, per statement key, the statement that currently stands for it (id,
revision, content digest). The outbox holds every statement's canonical bytes in the order
they were made; a statement leaves the `pending` state only when the LRS confirmed it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, func, select, update

from adoptloop.store import bulk, schema
from adoptloop.store.schema import utcnow

PENDING = "pending"
DELIVERED = "delivered"
REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class EmittedRow:
    key: str
    record_ref: str
    hr_id: str
    statement_id: str
    revision: int
    digest: str
    voided: bool


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    statement_id: str
    payload: bytes


def emitted_for(conn: Connection, record_refs: Sequence[str]) -> dict[str, EmittedRow]:
    """key -> its row, for every key the records `record_refs` emitted, in (record, key) order
    (the primary key's: the order a record's stale keys are voided in, on every database)."""
    if not record_refs:
        return {}
    t = schema.emitted
    query = select(t).where(t.c.record_ref.in_(list(record_refs))).order_by(t.c.record_ref, t.c.key)
    rows = conn.execute(query).mappings()
    return {r["key"]: EmittedRow(**r) for r in rows}


def any_emitted(conn: Connection) -> bool:
    """Whether any statement key emitted anything yet (False in a store's first translation:
    then no record has earlier statements to compare with, void or revise)."""
    return conn.execute(select(schema.emitted.c.key).limit(1)).first() is not None


_EMITTED_COLUMNS = (
    "key",
    "record_ref",
    "hr_id",
    "statement_id",
    "revision",
    "digest",
    "voided",
)


# An emitted row as save_emitted_values takes it: its _EMITTED_COLUMNS, then whether it exists.
EmittedValues = tuple[str, str, str, str, int, str, bool, bool]

_EMITTED_SET = _EMITTED_COLUMNS[2:]  # an update finds the row by its key (record_ref, key)
_EMITTED_UPDATE = (*(f"_{c}" for c in _EMITTED_SET), "_record_ref", "_key")


def save_emitted_values(conn: Connection, rows: Sequence[EmittedValues]) -> None:
    """Insert (exists=False) or update (exists=True) many rows: one statement per kind.

    A key may come more than once; the last row for it wins, inserted if its first was.
    """
    pending: dict[str, EmittedValues] = {}
    for row in rows:
        earlier = pending.get(row[0])
        pending[row[0]] = row if earlier is None else (*row[:7], earlier[7])
    t = schema.emitted
    if len(pending) == len(rows) and not any(row[7] for row in rows):
        inserts = [row[:7] for row in rows]  # the usual case: new keys only, each once
        updates = []
    else:
        inserts = [row[:7] for row in pending.values() if not row[7]]
        updates = [(*row[2:7], row[1], row[0]) for row in pending.values() if row[7]]
    bulk.insert_tuples(conn, t, _EMITTED_COLUMNS, inserts)
    bulk.update_tuples(
        conn,
        t,
        (t.c.record_ref == bindparam("_record_ref")) & (t.c.key == bindparam("_key")),
        _EMITTED_SET,
        _EMITTED_UPDATE,
        updates,
    )


@dataclass(frozen=True, slots=True)
class Queued:
    statement_id: str
    kind: str
    payload: bytes
    hr_id: str | None  # whom the statement is about; None for voiding statements


_OUTBOX_COLUMNS = (
    "statement_id",
    "kind",
    "hr_id",
    "payload",
    "created_run",
    "state",
    "created_at",
)


def enqueue(conn: Connection, rows: Sequence[Queued], run_id: str) -> None:
    """Add statements to the outbox, in order."""
    enqueue_values(conn, [(r.statement_id, r.kind, r.payload, r.hr_id) for r in rows], run_id)


def enqueue_values(
    conn: Connection, rows: Sequence[tuple[str, str, bytes, str | None]], run_id: str
) -> None:
    """enqueue for rows given as (statement_id, kind, payload, hr_id) tuples."""
    if rows:
        now = utcnow()  # one creation time per batch (the retention clock needs no finer)
        bulk.insert_tuples(
            conn,
            schema.outbox,
            _OUTBOX_COLUMNS,
            [
                (statement_id, kind, hr_id, payload.decode(), run_id, PENDING, now)
                for statement_id, kind, payload, hr_id in rows
            ],
        )


def settle(
    conn: Connection,
    statement_ids: Sequence[str],
    state: str,
    worker: str,
    error: str | None = None,
) -> None:
    """What the LRS answered for claimed rows: their new state, and the claim's lease cleared
    (`claimed_by` names the worker that settled them), in one write of each row."""
    if statement_ids:
        t = schema.outbox
        conn.execute(
            update(t)
            .where(bulk.one_of(conn, t.c.statement_id, statement_ids))
            .values(
                state=state,
                delivered_at=utcnow() if state == DELIVERED else None,
                error=error,
                claimed_by=worker,
                lease_until=None,
            )
        )


def counts(conn: Connection) -> dict[str, int]:
    t = schema.outbox
    rows = conn.execute(select(t.c.state, func.count()).group_by(t.c.state)).all()
    return {state: int(n) for state, n in rows}


def oldest_pending(conn: Connection) -> str | None:
    """When the oldest statement still waiting for delivery was made (None: none waits)."""
    t = schema.outbox
    oldest = conn.execute(select(func.min(t.c.created_at)).where(t.c.state == PENDING)).scalar()
    return None if oldest is None else str(oldest)


def iter_payloads(conn: Connection, *, batch: int = 1000) -> Iterator[bytes]:
    """Every statement ever made, in the order it was made (keyset paging, flat memory)."""
    t = schema.outbox
    last = 0
    while True:
        rows = conn.execute(
            select(t.c.seq, t.c.payload).where(t.c.seq > last).order_by(t.c.seq).limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield row.payload.encode()
        last = rows[-1].seq


def created_in(conn: Connection, run_id: str, *, limit: int) -> list[bytes]:
    """The first `limit` statements the run `run_id` queued, in queue order."""
    t = schema.outbox
    rows = conn.execute(
        select(t.c.payload).where(t.c.created_run == run_id).order_by(t.c.seq).limit(limit)
    ).scalars()
    return [str(payload).encode("utf-8") for payload in rows]
