"""Claiming outbox rows, so that several delivery workers (threads, processes, machines) split
the outbox and a killed worker's rows are delivered by another.

A claim marks pending rows with the worker's id and a lease. A row is claimable when it is
pending and carries no live lease. One `UPDATE ... WHERE seq IN (SELECT ...) RETURNING`
picks and marks them; on PostgreSQL the candidates are locked with `FOR UPDATE SKIP LOCKED`
(workers never wait on each other's rows), while SQLite serialises writers. When the LRS
answers, one write of each row records its new state and clears the lease (`claimed_by`
stays: who delivered it). A worker that dies keeps its rows until the lease runs out; then
any worker claims them again. A re-sent statement is harmless: the LRS answers an identical
statement with success, and `deliver` counts it as stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, any_, func, select, update

from adoptloop.store import outbox, quarantine, schema
from adoptloop.store.locks import is_dead_local_process
from adoptloop.store.outbox import OutboxRow
from adoptloop.store.quarantine import QuarantineEntry
from adoptloop.store.schema import stamp

DEFAULT_LEASE_SECONDS = 720.0


@dataclass
class OutboxClaims:
    """One worker's claims on the outbox."""

    engine: Engine
    worker: str
    lease_seconds: float = DEFAULT_LEASE_SECONDS

    def claim(self, limit: int) -> list[OutboxRow]:
        """Up to `limit` claimable rows, oldest first, now leased to this worker."""
        t = schema.outbox
        now = datetime.now(UTC)
        claimable = (t.c.state == outbox.PENDING) & (
            t.c.lease_until.is_(None) | (t.c.lease_until < stamp(now))
        )
        lease = {"claimed_by": self.worker, "lease_until": stamp(now + self._lease())}
        candidates = select(t.c.seq).where(claimable).order_by(t.c.seq).limit(limit)
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Locked rows are skipped, not waited for: another worker is claiming them.
                # ARRAY(...) makes the candidates an init plan, read once: as `IN (...)`
                # PostgreSQL may read the subquery again for each row it updates, and the
                # rows this statement has just updated, skipped as locked, would let more in.
                locked = candidates.with_for_update(skip_locked=True).scalar_subquery()
                target = t.c.seq == any_(func.array(locked))
            else:
                target = t.c.seq.in_(candidates.scalar_subquery())
            rows = conn.execute(
                update(t)
                .where(target & claimable)
                .values(**lease)
                .returning(t.c.seq, t.c.statement_id, t.c.payload)
            ).all()
        ordered = sorted(rows, key=lambda r: int(r.seq))
        return [OutboxRow(r.seq, r.statement_id, r.payload.encode()) for r in ordered]

    def _lease(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)

    def complete(
        self,
        run_id: str,
        stored: Sequence[str],
        rejected: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Record what the LRS said: `stored` statement ids are delivered, `rejected`
        ((statement id, reason) pairs) quarantined."""
        with self.engine.begin() as conn:
            outbox.settle(conn, stored, outbox.DELIVERED, self.worker)
            for statement_id, reason in rejected:
                outbox.settle(conn, [statement_id], outbox.REJECTED, self.worker, error=reason)
            quarantine.quarantine(
                conn,
                run_id,
                [
                    QuarantineEntry("lrs", "delivery", sid, "outbox", reason)
                    for sid, reason in rejected
                ],
            )
            quarantine.resolve_quarantined(conn, "lrs", "delivery", stored)

    def free_dead_local_claims(self) -> int:
        """Rows claimed by a process of this host that no longer runs are free at once.

        (A dead process on another machine keeps its rows until their lease runs out.)
        """
        t = schema.outbox
        with self.engine.connect() as conn:
            holders = conn.execute(
                select(t.c.claimed_by)
                .where((t.c.state == outbox.PENDING) & t.c.lease_until.is_not(None))
                .distinct()
            ).scalars()
            dead = [h for h in holders if h and is_dead_local_process(h)]
        if not dead:
            return 0
        with self.engine.begin() as conn:
            return conn.execute(
                update(t)
                .where(
                    t.c.claimed_by.in_(dead)
                    & (t.c.state == outbox.PENDING)
                    & t.c.lease_until.is_not(None)
                )
                .values(lease_until=None)
            ).rowcount

    def release(self, rows: Sequence[OutboxRow]) -> None:
        """Give rows back (the LRS is unreachable): any worker may claim them at once."""
        if not rows:
            return
        t = schema.outbox
        with self.engine.begin() as conn:
            conn.execute(
                update(t)
                .where(
                    t.c.seq.in_([r.seq for r in rows])
                    & (t.c.claimed_by == self.worker)
                    & (t.c.state == outbox.PENDING)
                )
                .values(lease_until=None)
            )
