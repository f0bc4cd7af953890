"""Identity resolution: every source's person id -> the HR id (the golden key).

A (system, external id) pair already matched is looked up in the `identities` table. A new
one is matched by the source's rules, tried in order, e.g. Salesforce FederationIdentifier ->
hr_id, then EmployeeNumber -> employee_number, then Email -> email; a rule matches only when
exactly one person has that value. What matches nobody is left to the caller to quarantine.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from adoptloop.connectors.base import IdentityRule
from adoptloop.domain import PersonRef
from adoptloop.mappings.translate import ERASED
from adoptloop.store import schema

_CACHE_LIMIT = 500_000


@dataclass(frozen=True, slots=True)
class Match:
    hr_id: str
    matched_by: str


class IdentityResolver:
    """Resolves PersonRefs of one source; caches what it has seen in this run."""

    def __init__(
        self, rules: Sequence[IdentityRule], *, erased: Container[str] = frozenset()
    ) -> None:
        self.rules = tuple(rules)
        self.erased = erased
        self._cache: dict[tuple[str, str], str | None] = {}

    def resolve(self, conn: Connection, ref: PersonRef) -> str | None:
        key = (ref.system, ref.external_id)
        if key in self._cache:
            return self._cache[key]
        hr_id = self._lookup(conn, ref)
        if hr_id is None:
            match = self.match(conn, ref)
            if match is not None and match.hr_id in self.erased:
                hr_id = ERASED  # matched an erased person: never written down again
            elif match is not None:
                self.remember(conn, ref, match)
                hr_id = match.hr_id
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[key] = hr_id
        return hr_id

    def match(self, conn: Connection, ref: PersonRef) -> Match | None:
        """Apply the rules to the ref's attributes; None when no rule gives exactly one person."""
        for rule in self.rules:
            value = ref.attributes.get(rule.attribute)
            if not value:
                continue
            column = schema.people.c[rule.person_field]
            wanted = value.lower() if rule.person_field == "email" else value
            found = conn.execute(
                select(schema.people.c.hr_id).where(column == wanted).distinct().limit(2)
            ).all()
            if len(found) == 1:
                return Match(found[0].hr_id, f"{rule.attribute}->{rule.person_field}")
        return None

    def remember(self, conn: Connection, ref: PersonRef, match: Match) -> None:
        table = schema.identities
        where = (table.c.system == ref.system) & (table.c.external_id == ref.external_id)
        current = conn.execute(select(table.c.hr_id).where(where)).scalar_one_or_none()
        if current is None:
            conn.execute(
                table.insert().values(
                    system=ref.system,
                    external_id=ref.external_id,
                    hr_id=match.hr_id,
                    matched_by=match.matched_by,
                )
            )
        elif current != match.hr_id:
            conn.execute(
                table.update().where(where).values(hr_id=match.hr_id, matched_by=match.matched_by)
            )
        self._cache[(ref.system, ref.external_id)] = match.hr_id

    @staticmethod
    def _lookup(conn: Connection, ref: PersonRef) -> str | None:
        table = schema.identities
        return conn.execute(
            select(table.c.hr_id).where(
                (table.c.system == ref.system) & (table.c.external_id == ref.external_id)
            )
        ).scalar_one_or_none()


def known_people(conn: Connection) -> int:
    return int(conn.execute(select(func.count(func.distinct(schema.people.c.hr_id)))).scalar_one())
