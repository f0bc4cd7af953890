"""Delivery workers claim outbox rows with a lease: they split the outbox, never share a row,
and a dead worker's rows are claimed again once its lease ran out."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, event, select, update

from adoptloop.store import outbox, quarantine, schema
from adoptloop.store.claims import OutboxClaims
from adoptloop.store.outbox import Queued
from adoptloop.store.quarantine import QuarantineEntry
from adoptloop.store.schema import stamp


def _fill(engine: Engine, n: int) -> list[str]:
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(n)]
    with engine.begin() as conn:
        outbox.enqueue(conn, [Queued(sid, "completed", b"{}", "E1") for sid in ids], "run-1")
    return ids


def test_two_workers_never_claim_the_same_row(engine: Engine) -> None:
    ids = _fill(engine, 40)
    a, b = OutboxClaims(engine, "a"), OutboxClaims(engine, "b")

    first = a.claim(25)
    second = b.claim(25)

    assert [r.statement_id for r in first] == ids[:25]
    assert [r.statement_id for r in second] == ids[25:]
    assert b.claim(25) == []


def test_concurrent_workers_split_the_outbox_between_them(engine: Engine) -> None:
    ids = _fill(engine, 300)
    got: dict[str, list[str]] = {}

    def work(name: str) -> None:
        claims = OutboxClaims(engine, name)
        mine = got.setdefault(name, [])
        while rows := claims.claim(7):
            mine.extend(r.statement_id for r in rows)
            claims.complete("run-1", [r.statement_id for r in rows])

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    claimed = [sid for mine in got.values() for sid in mine]
    assert sorted(claimed) == ids  # every row exactly once
    with engine.connect() as conn:
        assert outbox.counts(conn) == {"delivered": 300}


def test_a_dead_workers_rows_are_claimed_again_after_its_lease(engine: Engine) -> None:
    ids = _fill(engine, 10)
    dead = OutboxClaims(engine, "dead", lease_seconds=60)
    before = datetime.now(UTC)
    assert len(dead.claim(10)) == 10
    after = datetime.now(UTC)
    t = schema.outbox
    with engine.connect() as conn:
        leases = set(conn.execute(select(t.c.lease_until)).scalars())
    # leased for the minute from the claim (as stored: compared as the store compares them)
    assert len(leases) == 1
    assert (
        stamp(before + timedelta(seconds=60))
        <= leases.pop()
        <= stamp(after + timedelta(seconds=60))
    )
    alive = OutboxClaims(engine, "alive")
    assert alive.claim(10) == []

    # the minute passes: the lease is moved into the past rather than slept out (a lease of a
    # fraction of a second ran out on a loaded machine before the first claim was refused)
    with engine.begin() as conn:
        conn.execute(update(t).values(lease_until=stamp(datetime.now(UTC) - timedelta(seconds=1))))
    rows = alive.claim(10)
    alive.complete("run-1", [r.statement_id for r in rows])

    assert [r.statement_id for r in rows] == ids
    t = schema.outbox
    with engine.connect() as conn:
        who = set(conn.execute(select(t.c.claimed_by, t.c.lease_until, t.c.state)).all())
    assert who == {("alive", None, "delivered")}


def test_released_rows_can_be_claimed_at_once(engine: Engine) -> None:
    _fill(engine, 3)
    a = OutboxClaims(engine, "a")
    a.release(a.claim(3))

    assert len(OutboxClaims(engine, "b").claim(3)) == 3


def test_rejected_statements_are_quarantined_and_resolved_when_later_stored(
    engine: Engine,
) -> None:
    ids = _fill(engine, 2)
    claims = OutboxClaims(engine, "a")
    claims.claim(2)
    claims.complete("run-1", [ids[0]], [(ids[1], "HTTP 400: bad")])
    q = schema.quarantine
    with engine.connect() as conn:
        assert outbox.counts(conn) == {"delivered": 1, "rejected": 1}
        assert conn.execute(select(q.c.record_key, q.c.resolved)).all() == [(ids[1], False)]
    with engine.begin() as conn:
        conn.execute(update(schema.outbox).values(state="pending"))
    claims.claim(2)
    claims.complete("run-2", ids)
    with engine.connect() as conn:
        assert conn.execute(select(q.c.resolved)).scalars().all() == [True]


def test_completing_a_batch_settles_only_its_rows_with_one_statement_text_per_table(
    engine: Engine,
) -> None:
    """The settle and the quarantine's resolve name the batch's statement ids: on PostgreSQL as
    one array parameter, so that every batch sends the same SQL text (an IN list's text, bound
    and parsed anew, changes with the batch's size); on SQLite an IN list. Either way only the
    rows and entries named change."""
    ids = _fill(engine, 50)
    with engine.begin() as conn:
        quarantine.quarantine(
            conn,
            "run-0",
            [QuarantineEntry("lrs", "delivery", sid, "outbox", "HTTP 400") for sid in ids[::2]],
        )
    sent: list[tuple[str, object]] = []

    def capture(_c: object, _cursor: object, sql: str, params: object, *_: object) -> None:
        if sql.startswith(("UPDATE outbox SET delivered_at", "UPDATE quarantine")):
            sent.append((sql, params))

    event.listen(engine, "before_cursor_execute", capture)
    claims = OutboxClaims(engine, "a")
    try:
        for size in (3, 40):
            rows = claims.claim(size)
            claims.complete("run-1", [r.statement_id for r in rows])
    finally:
        event.remove(engine, "before_cursor_execute", capture)

    q = schema.quarantine
    with engine.connect() as conn:
        assert outbox.counts(conn) == {"delivered": 43, "pending": 7}
        resolved = set(conn.execute(select(q.c.record_key).where(q.c.resolved)).scalars())
    assert resolved == set(ids[:43:2])
    assert len(sent) == 4  # a settle and a resolve per batch
    if engine.dialect.name == "postgresql":
        for table in (sent[::2], sent[1::2]):  # the settles, the resolves
            assert len({sql for sql, _ in table}) == 1
            assert len({len(params) for _, params in table}) == 1  # type: ignore[arg-type]
