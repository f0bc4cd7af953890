"""Erasure of one person (GDPR art. 17): keep them out, void in the LRS, purge from the store.

1. The suppression list (pipeline/suppression.py) gets a keyed digest of every identifier the
   person has in the store: their HR id, emails and employee numbers (any HR row), every source
   account the identities table maps to them, and any account waiting in parked records that
   names them. Every later pull drops what names one of these.
2. Every statement about the person (they are the actor) is voided; the voiding statements hold
   only statement ids and go through the outbox like any other.
3. Observations of others that they made as the observing manager name ERASED instead: their
   digests change, so the translate stage that follows (pipeline/run.py) voids their statements
   and re-issues them without an instructor, as the next revision of the same key (a new
   statement id; the same bytes whenever it is made again).
4. Their rows are deleted: HR history, identities, completions, observations of them and their
   ratings, development actions, calls, write-back audit rows, adoption states; every outbox
   copy of a statement about them or naming their pseudonym; parked records naming them;
   quarantine entries keyed by them or naming them. References to them as a manager become
   "(erased)".
5. An audit entry records when and how much (counts per kind, no HR id, no name) under the keyed
   digest of their HR id. On SQLite the file is vacuumed afterwards so deleted pages are gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from adoptloop.domain import Account, PersonRef
from adoptloop.errors import AdoptloopError
from adoptloop.mappings.identity import IdentityRule
from adoptloop.pipeline.suppression import Suppression, account_kind, without_erased
from adoptloop.pipeline.translate import Finalizer
from adoptloop.store import erasures, outbox, parked
from adoptloop.store.outbox import Queued
from adoptloop.store.records import forget_adoption_computation

if TYPE_CHECKING:
    from sqlalchemy import Connection

log = structlog.get_logger(__name__)

# What `erase` reports, per kind (pipeline/run.py fills in what the translate stage did).
COUNTS = (
    "statements_voided",
    "statements_reissued",
    "hr_rows",
    "records",
    "parked",
    "quarantined",
    "identities",
    "outbox_rows",
    "identifiers_suppressed",
)


class UnknownPersonError(AdoptloopError):
    """`erase --person` names nobody the store knows: a usage error."""

    exit_code = 2


@dataclass
class ErasureResult:
    erasure_id: str
    counts: dict[str, int] = field(default_factory=dict)


Rules = Mapping[str, Sequence[IdentityRule]]  # source -> its identity rules


def erase_person(
    conn: Connection,
    finalizer: Finalizer,
    suppression: Suppression,
    rules: Rules,
    hr_id: str,
    *,
    run_id: str,
    now: str,
) -> ErasureResult:
    """Everything in one transaction: either the person is gone and voided, or nothing changed.
    `suppression` is the store's list; the person's identifiers are added to it."""
    subject = suppression.digest("hr_id", hr_id)
    if erasures.is_recorded(conn, subject):
        raise UnknownPersonError(f"{hr_id} was already erased; nothing to do")
    if not erasures.is_known(conn, hr_id):
        raise UnknownPersonError(f"no person with hr_id {hr_id} in the store; check the id")
    erasure_id = erasures.new_erasure_id()
    found = erasures.identifiers(conn, hr_id)
    kinds = [("hr_id", hr_id)]
    kinds += [("email", email) for email in sorted(found.emails)]
    kinds += [("employee_number", number) for number in sorted(found.employee_numbers)]
    kinds += [(account_kind(system), external_id) for system, external_id in found.accounts]
    digests = {digest for kind, value in kinds if (digest := suppression.add(kind, value))}
    accounts = {external_id for _, external_id in found.accounts}
    counts = dict.fromkeys(COUNTS, 0)
    counts["parked"] = _purge_parked(conn, suppression, rules, accounts, digests, run_id)
    counts["identifiers_suppressed"] = erasures.suppress(conn, erasure_id, digests)

    voiding = []
    for statement_id in erasures.live_statements_about(conn, hr_id):
        void_id, payload = finalizer.voiding(statement_id, now)
        voiding.append(Queued(void_id, "voided", payload, None))
    outbox.enqueue(conn, voiding, run_id)
    counts["statements_voided"] = len(voiding)
    pseudonym = finalizer.ctx.actors.name(hr_id)
    counts["outbox_rows"] = erasures.forget_statements_about(conn, hr_id, pseudonym)
    erasures.forget_as_observer(conn, hr_id)  # re-issued without them by the translate stage
    counts.update(erasures.purge_person(conn, hr_id))
    keys = {hr_id, *accounts, *found.emails}
    counts["quarantined"] = erasures.purge_quarantine(conn, hr_id, keys)
    forget_adoption_computation(conn)  # their reports' manager is now ERASED: recompute all
    erasures.record_erasure(conn, erasure_id, subject, counts)
    log.info("person purged from the store", erasure_id=erasure_id, **counts)
    return ErasureResult(erasure_id, counts)


def _purge_parked(
    conn: Connection,
    suppression: Suppression,
    rules: Rules,
    accounts: set[str],
    digests: set[str],
    run_id: str,
) -> int:
    """Parked records about the person are deleted (how many is returned); those that name them
    only in passing (the observer of a waiting visit) keep waiting without them. A user account
    of theirs waiting there (never matched) is suppressed too: its id joins `accounts` and
    `digests`."""
    waiting: list[parked.Parked] = []
    while batch := parked.waiting(conn, None, after_id=waiting[-1].id if waiting else 0):
        waiting += batch
    for item in waiting:
        record = item.record
        if isinstance(record, Account) and suppression.account(
            record.ref, rules.get(item.source, ())
        ):
            accounts.add(record.ref.external_id)
            kind = account_kind(record.ref.system)
            if digest := suppression.add(kind, record.ref.external_id):
                digests.add(digest)
    doomed = []
    for item in waiting:
        source_rules = rules.get(item.source, ())
        kept = without_erased(item.record, lambda ref: suppression.account(ref, source_rules))  # noqa: B023
        if kept is None:
            doomed.append(item.id)
        elif kept != item.record:
            waits_for = PersonRef(item.system, item.external_id)
            parked.park(conn, item.source, item.stream, item.record_key, waits_for, kept, run_id)
    return parked.drop(conn, doomed)
