"""Identities: which HR person each source system's account is, and the HR fields rules match.

`identities` holds (system, external_id) -> hr_id with the rule that matched; the people table
answers "who has this email / employee number / hr_id". The matching itself (rules tried in
order, exactly one person) is mappings/identity.py's; the pipeline wires the two.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from adoptloop.store import bulk, schema

_IN_CHUNK = 500  # values per IN (...): well under SQLite's and PostgreSQL's parameter limits

PERSON_FIELDS = ("hr_id", "email", "employee_number")  # what an identity rule may match on


@dataclass(frozen=True, slots=True)
class Identity:
    system: str
    external_id: str
    hr_id: str
    matched_by: str


def known(conn: Connection, system: str, external_ids: Sequence[str]) -> dict[str, str]:
    """external_id -> hr_id for the accounts of `system` already matched (bulk.rows_in: each
    id through the primary key on PostgreSQL, where the table fills within the pull)."""
    table = schema.identities
    found: dict[str, str] = {}
    for offset in range(0, len(external_ids), _IN_CHUNK):
        chunk = list(external_ids[offset : offset + _IN_CHUNK])
        rows = bulk.rows_in(
            conn, table, ["external_id", "hr_id"], "external_id", chunk, equal={"system": system}
        )
        found.update((external_id, hr_id) for external_id, hr_id in rows)
    return found


def people_by(conn: Connection, person_field: str, values: Sequence[str]) -> dict[str, set[str]]:
    """value -> the HR ids of the people whose `person_field` (any of their rows) has it."""
    if person_field not in PERSON_FIELDS:
        raise ValueError(f"identity rules match on {', '.join(PERSON_FIELDS)}, not {person_field}")
    column = schema.people.c[person_field]
    people: dict[str, set[str]] = defaultdict(set)
    for offset in range(0, len(values), _IN_CHUNK):
        chunk = list(values[offset : offset + _IN_CHUNK])
        for value, hr_id in conn.execute(
            select(column, schema.people.c.hr_id).where(column.in_(chunk)).distinct()
        ):
            people[value].add(hr_id)
    return dict(people)


def remember(conn: Connection, identities: Iterable[Identity]) -> None:
    """Record newly matched accounts (ones `known` did not have)."""
    rows = [
        {
            "system": i.system,
            "external_id": i.external_id,
            "hr_id": i.hr_id,
            "matched_by": i.matched_by,
        }
        for i in identities
    ]
    if rows:
        conn.execute(schema.identities.insert(), rows)
