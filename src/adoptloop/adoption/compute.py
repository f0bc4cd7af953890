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
from functools import partial
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    Select,
    String,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    union,
    update,
)

from adoptloop import __version__
from adoptloop.adoption.engine import PersonHistory, RepOutcome, people_outcomes
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import records, schema
from adoptloop.store.commits import Commits
from adoptloop.xapi.canonical import digest

BATCH = 1000
SOURCE = "adoption"


def outcome_row(
    outcome: RepOutcome,
    capabilities: CapabilityMap,
    history: PersonHistory,
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
    group = history.attributes(close)
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
    conn: Connection,
    capabilities: CapabilityMap,
    as_of: date,
    people: list[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """The rows of `people` (everyone: None), a person at a time."""
    for person in people_outcomes(conn, capabilities, as_of, people):
        for outcome in person.outcomes:
            yield outcome_row(outcome, capabilities, person.history, as_of)


@contextmanager
def scratch(engine: Engine, capabilities: CapabilityMap, as_of: date) -> Iterator[str]:
    """Compute into adoption_scratch; yields the computation id; the rows are removed after."""
    computation = str(uuid.uuid4())
    table = schema.adoption_scratch
    try:
        # read on one connection, write (and commit, batch by batch) on another: see
        # update_states; the rows are removed below whatever happens
        with engine.connect() as reader, engine.connect() as writer:
            batch: list[dict[str, Any]] = []
            for row in compute_rows(reader, capabilities, as_of):
                batch.append({**row, "computation": computation})
                if len(batch) >= BATCH:
                    writer.execute(table.insert(), batch)
                    writer.commit()
                    batch = []
            if batch:
                writer.execute(table.insert(), batch)
                writer.commit()
        yield computation
    finally:
        with engine.begin() as conn:
            conn.execute(delete(table).where(table.c.computation == computation))


# the fields that change every day without anything having happened: not part of the digest
_VOLATILE = ("as_of", "censored_days")


def update_states(
    engine: Engine, capabilities: CapabilityMap, as_of: date, *, full: bool = False
) -> dict[str, Any]:
    """Refresh adoption_states as of `as_of`; returns counts. Changed rows get re-translated.

    Only the people whose rows can have changed are recomputed (`_changed_people`), unless
    this is the first computation, the capability map, window or adoptloop version changed,
    `as_of` went back, or `full` is asked for. Either way the table ends as a full
    computation would leave it (tests/adoption/test_incremental_states.py checks that).

    The rows are written in transactions of COMMIT_ROWS rows (at most COMMIT_SECONDS long)
    while the inputs stream from a second connection: a long read may not keep a write
    transaction open (SQLite refuses a read snapshot's upgrade to writing once another
    connection, e.g. the run lock's heartbeat, has committed since). The as-of date and basis
    are recorded last, with the clearing of adoption_dirty: a computation cut short is redone.
    """
    basis = _basis(capabilities)
    with engine.begin() as conn:
        last = _last_computation(conn)
        since = last[0] if last is not None and last[1] == basis else None
        people = (
            None if full or since is None or as_of < since else _changed_people(conn, since, as_of)
        )
    with engine.connect() as reader, engine.connect() as writer:
        counts = _compute(reader, writer, capabilities, as_of, people)
    counts["mode"] = "full" if people is None else "incremental"
    if people is not None:
        counts["people"] = len(people)
    with engine.begin() as conn:
        conn.execute(delete(schema.adoption_dirty))
        _save_computation(conn, as_of, basis)
        counts["rows"] = conn.execute(
            select(func.count()).where(
                schema.adoption_states.c.source == SOURCE,
                schema.adoption_states.c.deleted.is_(False),
            )
        ).scalar_one()
    return counts


COMMIT_ROWS = 20_000
COMMIT_SECONDS = 5.0


def _compute(
    reader: Connection,
    writer: Connection,
    capabilities: CapabilityMap,
    as_of: date,
    people: list[str] | None,
) -> dict[str, Any]:
    """Upsert the rows of `people` (everyone: None) and tombstone theirs no longer produced."""
    table = schema.adoption_states
    counts = records.WriteCounts()
    produced = 0
    keys: set[str] = set()  # with `people`: the rows produced for them (a few, not everyone)
    batch: list[dict[str, Any]] = []
    commits = Commits(writer, rows=COMMIT_ROWS, seconds=COMMIT_SECONDS)

    def upsert(rows: list[dict[str, Any]]) -> None:
        counts.add(
            records.upsert_source_rows(writer, table, SOURCE, rows, digest_exclude=_VOLATILE)
        )

    for row in compute_rows(reader, capabilities, as_of, people):
        record_id = f"{row['hr_id']}/{row['capability_id']}"
        produced += 1
        if people is not None:
            keys.add(record_id)
        batch.append({**row, "record_id": record_id, "as_of": as_of})
        if len(batch) >= BATCH:
            commits.write(partial(upsert, batch), len(batch))
            batch = []
    if batch:
        commits.write(partial(upsert, batch), len(batch))
    commits.close()
    reader.rollback()  # the inputs are read; end the read transaction
    if people is not None:
        stale = _stale_among(writer, people, keys)
    else:
        live = writer.execute(
            select(func.count()).where(table.c.source == SOURCE, table.c.deleted.is_(False))
        ).scalar_one()
        # every row produced is live now (a tombstone's digest never matches a fresh row's),
        # so stale rows exist exactly when there are more live rows than were produced
        stale = _stale(writer, capabilities, as_of) if live > produced else []
    gone = 0
    for offset in range(0, len(stale), BATCH):
        gone += records.mark_deleted(writer, table, SOURCE, stale[offset : offset + BATCH])
    writer.commit()
    return {"changed": counts.inserted + counts.updated, "removed": gone}


def _stale_among(conn: Connection, people: list[str], produced: set[str]) -> list[str]:
    """Live rows of `people` that the computation did not produce."""
    t = schema.adoption_states
    stale: list[str] = []
    for offset in range(0, len(people), BATCH):
        query = select(t.c.record_id).where(
            t.c.source == SOURCE,
            t.c.deleted.is_(False),
            t.c.hr_id.in_(people[offset : offset + BATCH]),
        )
        stale += [rid for rid in conn.execute(query).scalars() if rid not in produced]
    return sorted(stale)


def _changed_people(conn: Connection, since: date, as_of: date) -> list[str]:
    """Whose rows can differ from the computation as of `since`: people whose inputs were
    written since (adoption_dirty), and people the passing of time from `since` to `as_of`
    reaches: a completion or counted visit dated in (since, as_of] (not counted before), an
    adoption window closing in it (the cohort), an HR row starting in it (the group of a rep
    whose window is open). Nothing else in a row depends on the as-of date except
    `censored_days` and `as_of`, which are volatile (metrics use the as-of date itself)."""
    d, c, o, s, p = (
        schema.adoption_dirty,
        schema.completions,
        schema.observations,
        schema.adoption_states,
        schema.people,
    )
    queries: list[Select[Any]] = [select(d.c.hr_id.label("k"))]
    if as_of > since:
        queries += [
            select(c.c.hr_id.label("k")).where(
                func.substr(c.c.completed_at, 1, 10) > since.isoformat(),
                func.substr(c.c.completed_at, 1, 10) <= as_of.isoformat(),
            ),
            select(o.c.observed_hr_id.label("k")).where(
                o.c.visit_date > since, o.c.visit_date <= as_of
            ),
            select(s.c.hr_id.label("k")).where(
                s.c.source == SOURCE, s.c.window_end > since, s.c.window_end <= as_of
            ),
            select(p.c.hr_id.label("k")).where(p.c.valid_from > since, p.c.valid_from <= as_of),
        ]
    keys = union(*queries).subquery()
    return list(conn.execute(select(keys.c.k).order_by(keys.c.k)).scalars())


_BASIS_KEY = records.ADOPTION_BASIS_KEY


def _basis(capabilities: CapabilityMap) -> str:
    """What every row depends on besides the data: the map, the windows, the engine's code."""
    return digest(
        {
            "map": capabilities.spec.model_dump(mode="json"),
            "window_days": capabilities.default_window_days,
            "adoptloop": __version__,
        }
    )


def _last_computation(conn: Connection) -> tuple[date, str] | None:
    m = schema.meta
    value = conn.execute(select(m.c.value).where(m.c.key == _BASIS_KEY)).scalar_one_or_none()
    if value is None:
        return None
    found = orjson.loads(value)
    return date.fromisoformat(found["as_of"]), str(found["basis"])


def _save_computation(conn: Connection, as_of: date, basis: str) -> None:
    m = schema.meta
    value = orjson.dumps({"as_of": as_of.isoformat(), "basis": basis}).decode()
    if conn.execute(update(m).where(m.c.key == _BASIS_KEY).values(value=value)).rowcount == 0:
        conn.execute(insert(m).values(key=_BASIS_KEY, value=value))


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
