"""The adoption pass: one row per rep x capability, written to the store in batches.

`people_outcomes` streams each person's HR rows, completions and ratings (ordered by person,
then capability and visit) through the state machine; each outcome becomes a row with its
window outcome, its state and transitions, its time to proficiency (or how long it was
observed without, for Kaplan-Meier censoring) and the rep's group at window close. Group
metrics are then plain SQL aggregates over these rows (adoption.metrics), so they scale with
the store, not with Python memory: one person is held at a time, and rows that are no longer
produced are found by the database (`_stale`), not by a set of every key in memory.

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
from sqlalchemy import (
    Connection,
    Engine,
    String,
    and_,
    delete,
    exists,
    func,
    literal,
    select,
    union,
)

from adoptloop.adoption.engine import OrgHistory, PersonHistory, RepOutcome, people_outcomes
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import records, schema

BATCH = 1000
SOURCE = "adoption"


def outcome_row(
    outcome: RepOutcome,
    capabilities: CapabilityMap,
    org: OrgHistory | PersonHistory,
    as_of: date,
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
    group = (
        org.attributes(close)
        if isinstance(org, PersonHistory)
        else org.attributes(outcome.hr_id, close)
    )
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
    for person in people_outcomes(conn, capabilities, as_of):
        for outcome in person.outcomes:
            yield outcome_row(outcome, capabilities, person.history, as_of)


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
    produced = 0
    with engine.begin() as conn:
        batch: list[dict[str, Any]] = []
        for row in compute_rows(conn, capabilities, as_of):
            produced += 1
            batch.append(
                {**row, "record_id": f"{row['hr_id']}/{row['capability_id']}", "as_of": as_of}
            )
            if len(batch) >= BATCH:
                counts.add(
                    records.upsert_source_rows(conn, table, SOURCE, batch, digest_exclude=_VOLATILE)
                )
                batch = []
        if batch:
            counts.add(
                records.upsert_source_rows(conn, table, SOURCE, batch, digest_exclude=_VOLATILE)
            )
        gone = 0
        live = conn.execute(
            select(func.count()).where(table.c.source == SOURCE, table.c.deleted.is_(False))
        ).scalar_one()
        # every row produced is live now (a tombstone's digest never matches a fresh row's),
        # so stale rows exist exactly when there are more live rows than were produced
        stale = _stale(conn, capabilities, as_of) if live > produced else []
        for offset in range(0, len(stale), BATCH):
            gone += records.mark_deleted(conn, table, SOURCE, stale[offset : offset + BATCH])
    return {"rows": produced, "changed": counts.inserted + counts.updated, "removed": gone}


def _stale(conn: Connection, capabilities: CapabilityMap, as_of: date) -> list[str]:
    """Live adoption_states rows whose (rep, capability) is neither trained nor rated any more.

    The same pairs `people_outcomes` produces, as an anti-join in the database. Stale rows are
    few (a rating removed, a capability dropped from the map), so the list is short.
    """
    s, r, o, c = schema.adoption_states, schema.ratings, schema.observations, schema.completions
    rated = (
        select(o.c.observed_hr_id.label("hr_id"), r.c.capability_id.label("capability_id"))
        .join(o, and_(o.c.source == r.c.source, o.c.record_id == r.c.record_id))
        .where(
            o.c.counted.is_(True),
            o.c.deleted.is_(False),
            o.c.visit_date <= as_of,
            r.c.capability_id.in_(list(capabilities.capabilities)),
        )
    )
    trained = [
        select(c.c.hr_id, literal(capability, String).label("capability_id")).where(
            c.c.module_id.in_(modules),
            c.c.status != "failed",
            c.c.deleted.is_(False),
            func.substr(c.c.completed_at, 1, 10) <= as_of.isoformat(),
        )
        for capability in capabilities.capabilities
        if (modules := capabilities.modules_for(capability))
    ]
    live = (union(rated, *trained) if trained else rated).subquery()
    query = (
        select(s.c.record_id)
        .where(s.c.source == SOURCE, s.c.deleted.is_(False))
        .where(
            ~exists().where(live.c.hr_id == s.c.hr_id, live.c.capability_id == s.c.capability_id)
        )
        .order_by(s.c.record_id)
    )
    return list(conn.execute(query).scalars())
