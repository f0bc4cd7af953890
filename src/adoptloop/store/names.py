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
    with an empty name, is left out."""
    if not hr_ids:
        return {}
    p = schema.people
    query = (
        select(p.c.hr_id, p.c.first_name, p.c.last_name)
        .where(p.c.hr_id.in_(sorted(hr_ids)), p.c.valid_from <= day)
        .order_by(p.c.hr_id, p.c.valid_from)
    )
    names: dict[str, str] = {}
    for hr_id, first, last in conn.execute(query):
        name = " ".join(part.strip() for part in (first, last) if part and part.strip())
        if name:
            names[hr_id] = name
    return names
