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

from collections.abc import Container
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from adoptloop.errors import AdoptloopError
from adoptloop.pipeline.translate import Finalizer
from adoptloop.store import erasures, outbox
from adoptloop.store.outbox import Queued
from adoptloop.store.records import forget_adoption_computation
from adoptloop.xapi.ids import erasure_digest

if TYPE_CHECKING:
    from sqlalchemy import Connection

log = structlog.get_logger(__name__)


class UnknownPersonError(AdoptloopError):
    """`erase --person` names nobody the store knows: a usage error."""

    exit_code = 2


@dataclass
class ErasureResult:
    erasure_id: str
    counts: dict[str, int] = field(default_factory=dict)


class ErasureList(Container[str]):
    """Answers "was this HR id erased?" without the store holding any erased HR id."""

    def __init__(self, key: bytes, digests: frozenset[str]) -> None:
        self._key = key
        self._digests = digests

    @classmethod
    def load(cls, conn: Connection, key: bytes) -> ErasureList:
        return cls(key, erasures.erased_digests(conn))

    def __contains__(self, hr_id: object) -> bool:
        return (
            bool(self._digests)
            and isinstance(hr_id, str)
            and erasure_digest(self._key, hr_id) in self._digests
        )


def erase_person(
    conn: Connection, finalizer: Finalizer, key: bytes, hr_id: str, *, run_id: str, now: str
) -> ErasureResult:
    """Everything in one transaction: either the person is gone and voided, or nothing changed."""
    subject = erasure_digest(key, hr_id)
    if erasures.is_recorded(conn, subject):
        raise UnknownPersonError(f"{hr_id} was already erased; nothing to do")
    if not erasures.is_known(conn, hr_id):
        raise UnknownPersonError(f"no person with hr_id {hr_id} in the store; check the id")
    counts: dict[str, int] = {}
    voiding = []
    for statement_id in erasures.live_statements_about(conn, hr_id):
        void_id, payload = finalizer.voiding(statement_id, now)
        voiding.append(Queued(void_id, "voided", payload, None))
    outbox.enqueue(conn, voiding, run_id)
    erasures.forget_statements_about(conn, hr_id)
    counts["statements_voided"] = len(voiding)
    counts["observations_reissued"] = erasures.forget_as_observer(conn, hr_id)
    counts.update(erasures.purge_person(conn, hr_id))
    forget_adoption_computation(conn)  # their reports' manager is now ERASED: recompute all
    erasure_id = erasures.record_erasure(conn, subject, counts)
    log.info("person erased", erasure_id=erasure_id, **counts)
    return ErasureResult(erasure_id, counts)
