"""Identity resolution: every source's person id -> the HR id (the golden key).

A (system, external id) pair already matched is looked up in the `identities` table. A new
one is matched by the source's rules, tried in order, e.g. Salesforce FederationIdentifier ->
hr_id, then EmployeeNumber -> employee_number, then Email -> email; a rule matches only when
exactly one person has that value. What matches nobody is left to the caller to quarantine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from adoptloop.connectors.base import IdentityRule
from adoptloop.domain import PersonRef
from adoptloop.mappings.translate import ERASED
from adoptloop.store import schema

_CACHE_LIMIT = 500_000
_IN_CHUNK = 500  # values per IN (...): well under SQLite's and PostgreSQL's parameter limits


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

    def prefetch(self, conn: Connection, refs: Iterable[PersonRef]) -> None:
        """Resolve many refs with a few queries (as `resolve` would one by one), so that the
        `resolve` calls that follow are answered from the cache."""
        room = _CACHE_LIMIT - len(self._cache)
        todo: dict[tuple[str, str], PersonRef] = {}
        for ref in refs:
            key = (ref.system, ref.external_id)
            if key not in self._cache and key not in todo:
                todo[key] = ref
        if not todo or len(todo) > room:
            return  # a cache this full: `resolve` asks one by one, as it always did
        table = schema.identities
        by_system: dict[str, list[str]] = defaultdict(list)
        for system, external_id in todo:
            by_system[system].append(external_id)
        for system, ids in by_system.items():
            for offset in range(0, len(ids), _IN_CHUNK):
                chunk = ids[offset : offset + _IN_CHUNK]
                for external_id, hr_id in conn.execute(
                    select(table.c.external_id, table.c.hr_id).where(
                        (table.c.system == system) & table.c.external_id.in_(chunk)
                    )
                ):
                    self._cache[(system, external_id)] = hr_id
                    todo.pop((system, external_id), None)
        matches = self._match_many(conn, list(todo.values()))
        fresh = []
        for key, ref in todo.items():
            match = matches.get(key)
            if match is not None and match.hr_id in self.erased:
                self._cache[key] = ERASED  # matched an erased person: never written down again
            elif match is not None:
                fresh.append(
                    {
                        "system": ref.system,
                        "external_id": ref.external_id,
                        "hr_id": match.hr_id,
                        "matched_by": match.matched_by,
                    }
                )
                self._cache[key] = match.hr_id
            else:
                self._cache[key] = None
        if fresh:
            conn.execute(table.insert(), fresh)

    def _match_many(
        self, conn: Connection, refs: Sequence[PersonRef]
    ) -> dict[tuple[str, str], Match]:
        """`match` for many refs: per rule, one query for every ref still unmatched."""
        found: dict[tuple[str, str], Match] = {}
        pending = list(refs)
        for rule in self.rules:
            column = schema.people.c[rule.person_field]
            wanted: dict[str, list[PersonRef]] = defaultdict(list)
            rest: list[PersonRef] = []
            for ref in pending:
                value = ref.attributes.get(rule.attribute)
                if not value:
                    rest.append(ref)
                    continue
                wanted[value.lower() if rule.person_field == "email" else value].append(ref)
            people: dict[str, set[str]] = defaultdict(set)
            values = list(wanted)
            for offset in range(0, len(values), _IN_CHUNK):
                chunk = values[offset : offset + _IN_CHUNK]
                for value, hr_id in conn.execute(
                    select(column, schema.people.c.hr_id).where(column.in_(chunk)).distinct()
                ):
                    people[value].add(hr_id)
            for value, waiting in wanted.items():
                hr_ids = people.get(value, set())
                if len(hr_ids) == 1:
                    match = Match(next(iter(hr_ids)), f"{rule.attribute}->{rule.person_field}")
                    for ref in waiting:
                        found[(ref.system, ref.external_id)] = match
                else:
                    rest.extend(waiting)
            pending = rest
        return found

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
