"""The adoption pass: one row per rep x capability, written to the store in batches.

`people_outcomes` streams each person's HR rows, completions and ratings (ordered by person,
then capability and visit) through the state machine; each outcome becomes a row with its
window outcome, its state and transitions, its time to proficiency (or how long it was
observed without, for Kaplan-Meier censoring) and the rep's group at window close (region and
manager of the `rep` row valid then, adoption.employment; both NULL when the pair counts
nowhere). Group metrics (adoption.metrics) stream these rows and attribute each through the
same adoption.employment rules: one person is held at a time here, and rows that are no longer
produced are found by the database (store.adoption.stale_states), not by a set of every key
in memory. Every query is in store/adoption.py; this module decides what the rows say.

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
from typing import TYPE_CHECKING, Any

import orjson

from adoptloop import __version__
from adoptloop.adoption import aggregates
from adoptloop.adoption.employment import Employment
from adoptloop.adoption.outcomes import RepOutcome, people_outcomes
from adoptloop.adoption.states import State
from adoptloop.mappings.capability_map import CapabilityMap
from adoptloop.store import adoption as store
from adoptloop.store import aggregates as kept_metrics
from adoptloop.store.commits import Commits
from adoptloop.store.db import streaming
from adoptloop.store.records import WriteCounts, row_digest

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

BATCH = 1000


_VALUE = {state: state.value for state in State}  # (an enum's `.value` is a Python call)


def outcome_row(
    outcome: RepOutcome,
    capabilities: CapabilityMap,
    history: Employment,
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
    post = history.rep_on(close)  # None: the pair counts nowhere (left, or not a rep)
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
        "state": _VALUE[path.state],
        "state_since": last.on if last else None,
        "ever_adopted": path.ever_adopted,
        "days_to_proficient": days_to,
        "censored_days": censored,
        "region": post.region if post else None,
        "manager_hr_id": post.manager_hr_id if post else None,
        "team": post.team if post else None,
        "transitions": orjson.dumps(
            [[_VALUE[t.state], t.on.isoformat()] for t in path.transitions]
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
    try:
        # read on one connection, write (and commit, batch by batch) on another: see
        # update_states; the rows are removed below whatever happens
        with streaming(engine) as reader, engine.connect() as writer:
            batch: list[dict[str, Any]] = []
            for row in compute_rows(reader, capabilities, as_of):
                batch.append(row)
                if len(batch) >= BATCH:
                    store.insert_scratch(writer, computation, batch)
                    writer.commit()
                    batch = []
            if batch:
                store.insert_scratch(writer, computation, batch)
                writer.commit()
        yield computation
    finally:
        with engine.begin() as conn:
            store.delete_scratch(conn, computation)


# the fields that change every day without anything having happened: not part of the digest
_VOLATILE = ("as_of", "censored_days")


def update_states(
    engine: Engine, capabilities: CapabilityMap, as_of: date, *, full: bool = False
) -> dict[str, Any]:
    """Refresh adoption_states as of `as_of`; returns counts. Changed rows get re-translated.

    Only the people whose rows can have changed are recomputed (store.adoption.changed_people),
    unless this is the first computation, the capability map, window or adoptloop version
    changed, `as_of` went back, or `full` is asked for. Either way the table ends as a full
    computation would leave it (tests/adoption/test_incremental_states.py checks that).

    The rows are written in transactions of COMMIT_ROWS rows (at most COMMIT_SECONDS long)
    while the inputs stream from a second connection: a long read may not keep a write
    transaction open (SQLite refuses a read snapshot's upgrade to writing once another
    connection, e.g. the run lock's heartbeat, has committed since). The as-of date and basis
    are recorded last, with the clearing of adoption_dirty: a computation cut short is redone.
    A full computation also rebuilds the kept metrics from the rows as it makes them
    (adoption.aggregates.Rebuild, its counts under "kept_sums"); an incremental one marks
    its people for the metrics' next update.
    """
    basis = _basis(capabilities)
    with engine.begin() as conn:
        last = store.last_computation(conn)
        since = last[0] if last is not None and last[1] == basis else None
        people = (
            None
            if full or since is None or as_of < since
            else store.changed_people(conn, since, as_of)
        )
        # a first computation (an empty table, everyone computed once) only inserts: no
        # lookup of stored digests, whose plan PostgreSQL makes while the table is nearly empty
        new = people is None and store.no_states(conn)
    with streaming(engine) as reader, engine.connect() as writer:
        # a full computation rebuilds the kept metrics (adoption.aggregates) beside it
        sums = None if people is not None else aggregates.Rebuild(reader, capabilities, as_of)
        try:
            counts = _compute(reader, writer, capabilities, as_of, people, new=new, sums=sums)
        finally:
            if sums is not None:  # after a failure: the write lock let go, then its work
                writer.rollback()  # beside the pass is waited for
                sums.close()
    counts["mode"] = "full" if people is None else "incremental"
    if people is not None:
        counts["people"] = len(people)
    with engine.begin() as conn:
        store.finish_computation(conn, as_of, basis)
        if people is not None:
            kept_metrics.mark_dirty(conn, people)
        counts["rows"] = store.live_states(conn)
    return counts


COMMIT_ROWS = 20_000
COMMIT_SECONDS = 5.0


def _compute(
    reader: Connection,
    writer: Connection,
    capabilities: CapabilityMap,
    as_of: date,
    people: list[str] | None,
    *,
    new: bool,
    sums: aggregates.Rebuild | None = None,
) -> dict[str, Any]:
    """Upsert the rows of `people` (everyone: None) and tombstone theirs no longer produced;
    `new`: none is stored yet, so they are inserted without looking up stored digests.
    `sums`: the kept metrics rebuilt from everyone's rows as they are made (their writes in
    the same transactions as the rows')."""
    counts = WriteCounts()
    produced = 0
    keys: set[str] = set()  # with `people`: the rows produced for them (a few, not everyone)
    batch: list[dict[str, Any]] = []
    commits = Commits(writer, rows=COMMIT_ROWS, seconds=COMMIT_SECONDS)

    def upsert(rows: list[dict[str, Any]]) -> None:
        counts.add(store.upsert_states(writer, rows, volatile=_VOLATILE, new=new))

    if sums is not None:
        commits.write(partial(sums.begin, writer), 0)
    for person in people_outcomes(reader, capabilities, as_of, people):
        rows = [outcome_row(o, capabilities, person.history, as_of) for o in person.outcomes]
        for row in rows:
            record_id = f"{row['hr_id']}/{row['capability_id']}"
            produced += 1
            if people is not None:
                keys.add(record_id)
            batch.append({**row, "record_id": record_id, "as_of": as_of})
        if len(batch) >= BATCH:
            commits.write(partial(upsert, batch), len(batch))
            batch = []
        if sums is not None:
            sums.add(person.hr_id, person.posts, person.history, rows)
            if sums.pending >= aggregates.CHUNK_PEOPLE:
                commits.write(partial(sums.flush, writer), 0)
    if batch:
        commits.write(partial(upsert, batch), len(batch))
    commits.close()
    reader.rollback()  # the inputs are read; end the read transaction
    if people is not None:
        stale = store.stale_among(writer, people, keys)
    else:
        # every row produced is live now (a tombstone's digest never matches a fresh row's),
        # so stale rows exist exactly when there are more live rows than were produced
        stale = _stale(writer, capabilities, as_of) if store.live_states(writer) > produced else []
    gone = store.tombstone_states(writer, stale)
    result: dict[str, Any] = {"changed": counts.inserted + counts.updated, "removed": gone}
    if sums is not None:  # after the last row: the kept sums are those of the live rows
        sums.finish(writer)
        result["kept_sums"] = {"metrics": "full", "people": sums.people}
    writer.commit()
    return result


def _stale(conn: Connection, capabilities: CapabilityMap, as_of: date) -> list[str]:
    """Live rows whose (rep, capability) is neither trained nor rated any more: the same
    pairs `people_outcomes` produces."""
    modules = {c: capabilities.modules_for(c) for c in capabilities.capabilities}
    return store.stale_states(conn, modules, as_of)


def _basis(capabilities: CapabilityMap) -> str:
    """What every row depends on besides the data: the map, the windows, the engine's code.

    Its value only decides whether the next computation must redo everyone (a new value
    costs one full pass)."""
    return row_digest(
        {
            "map": capabilities.spec.model_dump(mode="json"),
            "window_days": capabilities.default_window_days,
            "adoptloop": __version__,
        }
    )
