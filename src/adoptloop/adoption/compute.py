"""The adoption pass: one row per rep x capability, written to the store in batches.

`rep_outcomes` streams the ratings (ordered by capability, rep, visit) through the state
machine; each outcome becomes a row with its window outcome, its state and transitions, its
time to proficiency (or how long it was observed without, for Kaplan-Meier censoring) and
the rep's group at window close. Group metrics are then plain SQL aggregates over these rows
(adoption.metrics), so they scale with the store, not with Python memory.

Two destinations share the columns:
- `adoption_states`: the current state as of the run, upserted by digest so that only
  changed rows are re-translated into adoption statements (and rows that no longer exist are
  tombstoned, voiding their statements);
- `adoption_scratch`: one ad-hoc computation (`adoptloop adoption --as-of ...`), deleted after.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, delete, select

from adoptloop.adoption.engine import OrgHistory, RepOutcome, rep_outcomes
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import records, schema

BATCH = 1000
SOURCE = "adoption"


def outcome_row(
    outcome: RepOutcome, capabilities: CapabilityMap, org: OrgHistory, as_of: date
) -> dict[str, Any]:
    path = outcome.path
    trained_at = outcome.trained_at
    window_end = None
    close = as_of
    days_to: int | None = None
    censored: int | None = None
    if trained_at is not None:
        window_end = trained_at + timedelta(days=capabilities.window_days(outcome.capability_id))
        close = min(window_end, as_of)
        if path.first_proficient is not None:
            days_to = (path.first_proficient - trained_at).days
        else:
            censored = (as_of - trained_at).days
    group = org.attributes(outcome.hr_id, close)
    last = path.transitions[-1] if path.transitions else None
    return {
        "hr_id": outcome.hr_id,
        "capability_id": outcome.capability_id,
        "trained_at": trained_at,
        "trained_module": outcome.trained_module,
        "window_end": window_end,
        "in_cohort": outcome.in_cohort,
        "observed": outcome.observed,
        "proficient": outcome.proficient,
        "state": path.state.value,
        "state_since": last.on if last else None,
        "ever_adopted": path.ever_adopted,
        "days_to_proficient": days_to,
        "censored_days": censored,
        "region": group.get("region"),
        "manager_hr_id": group.get("manager"),
        "transitions": orjson.dumps(
            [[t.state.value, t.on.isoformat()] for t in path.transitions]
        ).decode(),
    }


def compute_rows(
    conn: Connection, capabilities: CapabilityMap, as_of: date
) -> Iterator[dict[str, Any]]:
    org = OrgHistory(conn)
    for outcome in rep_outcomes(conn, capabilities, as_of):
        yield outcome_row(outcome, capabilities, org, as_of)


@contextmanager
def scratch(engine: Engine, capabilities: CapabilityMap, as_of: date) -> Iterator[str]:
    """Compute into adoption_scratch; yields the computation id; the rows are removed after."""
    computation = str(uuid.uuid4())
    table = schema.adoption_scratch
    try:
        with engine.begin() as conn:
            batch: list[dict[str, Any]] = []
            for row in compute_rows(conn, capabilities, as_of):
                batch.append({**row, "computation": computation})
                if len(batch) >= BATCH:
                    conn.execute(table.insert(), batch)
                    batch = []
            if batch:
                conn.execute(table.insert(), batch)
        yield computation
    finally:
        with engine.begin() as conn:
            conn.execute(delete(table).where(table.c.computation == computation))


# the fields that change every day without anything having happened: not part of the digest
_VOLATILE = ("as_of", "censored_days")


def update_states(engine: Engine, capabilities: CapabilityMap, as_of: date) -> dict[str, int]:
    """Refresh adoption_states as of `as_of`; returns counts. Changed rows get re-translated."""
    table = schema.adoption_states
    counts = records.WriteCounts()
    seen: set[str] = set()
    with engine.begin() as conn:
        batch: list[dict[str, Any]] = []
        for row in compute_rows(conn, capabilities, as_of):
            record_id = f"{row['hr_id']}/{row['capability_id']}"
            seen.add(record_id)
            batch.append({**row, "record_id": record_id, "as_of": as_of})
            if len(batch) >= BATCH:
                counts.add(
                    records.upsert_source_rows(conn, table, SOURCE, batch, digest_exclude=_VOLATILE)
                )
                batch = []
        if batch:
            counts.add(
                records.upsert_source_rows(conn, table, SOURCE, batch, digest_exclude=_VOLATILE)
            )
        stale = [
            rid
            for rid in conn.execute(
                select(table.c.record_id).where(
                    (table.c.source == SOURCE) & table.c.deleted.is_(False)
                )
            ).scalars()
            if rid not in seen
        ]
        gone = records.mark_deleted(conn, table, SOURCE, stale)
    return {"rows": len(seen), "changed": counts.inserted + counts.updated, "removed": gone}
