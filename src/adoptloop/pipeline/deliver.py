"""Deliver: outbox -> LRS. A statement leaves `pending` only when the LRS confirmed it.

With `delivery.target: store` (the embedded default) nothing is sent: the outbox is the
archive, exported with `adoptloop statements export`.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy import Engine

from adoptloop.errors import RetriableError
from adoptloop.store import bookkeeping, outbox
from adoptloop.store.bookkeeping import QuarantineEntry
from adoptloop.xapi.lrs import LRSClient, Outgoing

log = structlog.get_logger(__name__)


@dataclass
class DeliverCounts:
    sent: int = 0
    stored: int = 0
    rejected: int = 0
    batches: int = 0
    stopped_early: bool = False

    def as_dict(self) -> dict[str, int | bool]:
        return dict(self.__dict__)


def deliver(engine: Engine, client: LRSClient, run_id: str, *, batch_size: int) -> DeliverCounts:
    counts = DeliverCounts()
    after = 0
    while True:
        with engine.connect() as conn:
            rows = outbox.pending(conn, after_seq=after, limit=batch_size)
        if not rows:
            break
        try:
            result = client.send([Outgoing(r.statement_id, r.payload) for r in rows])
        except RetriableError as exc:
            counts.stopped_early = True
            log.warning("delivery paused; statements stay in the outbox", reason=str(exc))
            break
        with engine.begin() as conn:
            outbox.mark(conn, result.stored, outbox.DELIVERED)
            for statement_id, reason in result.rejected:
                outbox.mark(conn, [statement_id], outbox.REJECTED, error=reason)
            bookkeeping.quarantine(
                conn,
                run_id,
                [
                    QuarantineEntry("lrs", "delivery", sid, "outbox", reason)
                    for sid, reason in result.rejected
                ],
            )
        counts.batches += 1
        counts.sent += len(rows)
        counts.stored += len(result.stored)
        counts.rejected += len(result.rejected)
        after = rows[-1].seq
    log.info("delivered", **counts.as_dict())
    return counts
