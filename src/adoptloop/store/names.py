"""People's display names from the HR rows, for the report's manager labels (adoption.report).

Names never reach statements or logs; the report shows them only when `adoption.report.
show_names` is on (the default), otherwise the actor pseudonym the statements carry.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlalchemy import Connection, select

from adoptloop.store import schema


def display_names(conn: Connection, hr_ids: Collection[str], day: date) -> dict[str, str]:
    """hr_id -> "First Last" from each person's latest HR row starting on or before `day` (the
    row in effect then, or their last one if they had left); a person without such a row, or
    with an empty name, is left out. Read PEOPLE_PER_READ people at a time: the report names
    every first-line manager (12,500 at 100,000 reps), which as one IN list was a statement of
    as many parameters (~3 MB while it ran; SQLite allows 32,766)."""
    p = schema.people
    ids = sorted(hr_ids)
    names: dict[str, str] = {}
    for offset in range(0, len(ids), PEOPLE_PER_READ):
        query = (
            select(p.c.hr_id, p.c.first_name, p.c.last_name)
            .where(p.c.hr_id.in_(ids[offset : offset + PEOPLE_PER_READ]), p.c.valid_from <= day)
            .order_by(p.c.hr_id, p.c.valid_from)
        )
        for hr_id, first, last in conn.execute(query):
            name = " ".join(part.strip() for part in (first, last) if part and part.strip())
            if name:
                names[hr_id] = name
    return names


PEOPLE_PER_READ = 500
