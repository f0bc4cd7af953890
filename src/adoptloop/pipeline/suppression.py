"""The suppression list: what keeps an erased person out of the store for good.

An erasure (pipeline/erase.py) remembers every identifier the person had in the store (HR id,
email, employee number, each source account the identities table mapped to them) as a keyed
digest (`xapi.ids.suppression_digest`, HMAC-SHA256 with the actor key that also makes the
pseudonyms); the store never keeps the identifier itself. The pull asks this list about every
HR row, every account a record names (before identity matching) and every rejected record's
key: what names an erased person is dropped and counted "suppressed", never stored, parked or
quarantined. A record that names them only in passing (the observer of someone else's visit, a
ride-along manager) is kept with the person as ERASED.

An HR id, an employee number and an account id are compared as they are (spaces around them
dropped), an email lower-cased. Attributes an identity rule matches on are compared as that
rule's HR field; any other attribute that holds an "@" is compared as an email.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from adoptloop.domain import (
    ERASED,
    CoachingObservation,
    FieldInteraction,
    Person,
    PersonRef,
    Record,
    people_named,
)
from adoptloop.mappings.identity import IdentityRule
from adoptloop.store import erasures
from adoptloop.xapi.ids import suppression_digest

if TYPE_CHECKING:
    from sqlalchemy import Connection


def account_kind(system: str) -> str:
    """The kind an account id of `system` is remembered as."""
    return f"account:{system}"


class Suppression(Container[str]):
    """Answers "does this name an erased person?"; `in` takes an HR id."""

    def __init__(self, key: bytes, digests: Iterable[str] = ()) -> None:
        self._key = key
        self._digests = set(digests)

    @classmethod
    def load(cls, conn: Connection, key: bytes) -> Suppression:
        return cls(key, erasures.suppressed_digests(conn))

    def __bool__(self) -> bool:
        return bool(self._digests)

    def digest(self, kind: str, value: str) -> str:
        normal = value.strip().lower() if kind == "email" else value.strip()
        return suppression_digest(self._key, kind, normal)

    def add(self, kind: str, value: str | None) -> str | None:
        """Suppress one identifier (nothing for an empty one); its digest."""
        if not value or not value.strip():
            return None
        digest = self.digest(kind, value)
        self._digests.add(digest)
        return digest

    def has(self, kind: str, value: str | None) -> bool:
        return bool(self._digests and value and self.digest(kind, value) in self._digests)

    def __contains__(self, hr_id: object) -> bool:
        return isinstance(hr_id, str) and self.has("hr_id", hr_id)

    def person(self, person: Person) -> bool:
        """An HR row with an erased person's HR id, email or employee number."""
        return bool(self._digests) and (
            self.has("hr_id", person.hr_id)
            or self.has("email", person.email)
            or self.has("employee_number", person.employee_number)
        )

    def account(self, ref: PersonRef, rules: Sequence[IdentityRule]) -> bool:
        """A source's account that is an erased person's: its id, or an attribute an identity
        rule would match them by, or an email among its attributes."""
        if not self._digests:
            return False
        if self.has(account_kind(ref.system), ref.external_id):
            return True
        if any(self.has(r.person_field, ref.attributes.get(r.attribute)) for r in rules):
            return True
        return any("@" in value and self.has("email", value) for value in ref.attributes.values())

    def key(self, system: str, record_key: str) -> bool:
        """A rejected record keyed by an erased person's HR id or account id."""
        return bool(self._digests) and (
            self.has("hr_id", record_key) or self.has(account_kind(system), record_key)
        )


def without_erased(record: Record, erased: Callable[[PersonRef], bool]) -> Record | None:
    """The record as it may be kept: None when an `erased` person is what it is about (the
    learner, the observed rep, ...); an erased person it names only in passing (the observer of
    someone else's visit, a ride-along manager) kept as an account named ERASED, never by id."""
    if isinstance(record, CoachingObservation) and erased(record.observer):
        record = replace(record, observer=PersonRef(record.observer.system, ERASED))
    if isinstance(record, FieldInteraction) and record.manager and erased(record.manager):
        record = replace(record, manager=PersonRef(record.manager.system, ERASED))
    named = people_named(record)
    return None if any(ref.external_id != ERASED and erased(ref) for ref in named) else record
